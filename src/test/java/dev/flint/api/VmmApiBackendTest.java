package dev.flint.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.flint.api.generated.model.BootSource;
import dev.flint.api.generated.model.InstanceActionInfo;
import dev.flint.api.generated.model.MachineConfiguration;
import dev.flint.api.generated.model.SerialDevice;
import dev.flint.guest.GuestAssets;
import dev.flint.machine.StopReason;
import dev.flint.vmm.Console;
import dev.flint.vmm.Engines;
import dev.flint.vmm.FakeEngine;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The API on Flint's real Vmm (board devices, boot loader) with an engine whose "guest" is a Java
 * callback: what InstanceStart builds, where the console goes, and how VMM refusals reach the client.
 */
class VmmApiBackendTest {
    private static final InstanceActionInfo START =
            new InstanceActionInfo().actionType(InstanceActionInfo.ActionTypeEnum.INSTANCE_START);

    @TempDir
    Path dir;

    private static Path debianKernel() {
        GuestAssets assets = GuestAssets.open(GuestAssets.defaultCacheDir());
        assumeTrue(assets.isFetched(), "needs the guest kernel: run `flint guest fetch`");
        return assets.kernel();
    }

    /** Serves the API on a Vmm whose only engine is {@code engine} (named "emu"), then runs {@code body}. */
    private void withApi(FakeEngine engine, boolean bootTimer, ApiSession body) throws Exception {
        var backend = new VmmApiBackend(new Engines(List.of(() -> engine)), "emu", Console.none());
        Path socket = dir.resolve("api.sock");
        try (VmmController vmm = new VmmController("real-vmm", backend, bootTimer);
             ApiServer server = ApiServer.start(socket, vmm, ApiServer.DEFAULT_MAX_PAYLOAD);
             UnixSocketClient client = new UnixSocketClient(server.socket())) {
            body.run(vmm, client);
        }
    }

    private interface ApiSession {
        void run(VmmController vmm, UnixSocketClient client) throws Exception;
    }

    @Test
    void instanceStartBootsTheVmmAndTheGuestConsoleGoesToTheSerialFile() throws Exception {
        Path kernel = debianKernel();
        Path console = dir.resolve("console.log");
        // With --boot-timer: the device is installed, so InstanceStart goes through.
        withApi(FakeEngine.printingThenPoweringOff("emu", "hello from the guest\n"), true, (vmm, client) -> {
            assertEquals(204, client.send("PUT", "/boot-source", new BootSource().kernelImagePath(kernel.toString())).status());
            assertEquals(204, client.send("PUT", "/machine-config", new MachineConfiguration().vcpuCount(1).memSizeMib(128)).status());
            assertEquals(204, client.send("PUT", "/serial", new SerialDevice().serialOutPath(console.toString())).status());
            var started = client.send("PUT", "/actions", START);
            assertEquals(204, started.status(), started.body());
            assertEquals(new StopReason.PowerOff(), vmm.stopped().get(60, TimeUnit.SECONDS));
        });
        assertEquals("hello from the guest\n", Files.readString(console));
    }

    @Test
    void whatTheVmmRefusesReachesTheClientAsAFault() throws Exception {
        Path notAKernel = Files.writeString(dir.resolve("vmlinuz"), "#!/bin/sh\n");
        withApi(FakeEngine.printingThenPoweringOff("emu", ""), false, (vmm, client) -> {
            assertEquals(204, client.send("PUT", "/boot-source", new BootSource().kernelImagePath(notAKernel.toString())).status());
            String format = client.send("PUT", "/actions", START).fault();
            assertTrue(format.startsWith("cannot start the microVM: ") && format.contains(notAKernel.toString()), format);
            assertEquals(204, client.send("PUT", "/machine-config", new MachineConfiguration().vcpuCount(1).memSizeMib(16)).status());
            String memory = client.send("PUT", "/actions", START).fault();
            assertTrue(memory.contains("too small"), memory);
            assertEquals(200, client.get("/").status());
        });
    }
}
