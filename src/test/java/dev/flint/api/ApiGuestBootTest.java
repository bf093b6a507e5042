package dev.flint.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.api.generated.model.BootSource;
import dev.flint.api.generated.model.InstanceActionInfo;
import dev.flint.api.generated.model.MachineConfiguration;
import dev.flint.boot.FlintProcess;
import dev.flint.guest.GuestAssets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Firecracker workflow against a real guest: {@code flint vmm} in its own process, configured and
 * started over the socket, answering while the stock kernel boots on the emu engine, and ended by
 * SendCtrlAltDel as Firecracker users end a microVM.
 */
@Tag("guest")
class ApiGuestBootTest {
    private static InstanceActionInfo action(InstanceActionInfo.ActionTypeEnum type) {
        return new InstanceActionInfo().actionType(type);
    }

    /** Boot source and machine configuration for the default guest: 1 vCPU, 256 MiB, console on ttyS0. */
    static void putDefaultGuest(UnixSocketClient client, GuestAssets assets) throws Exception {
        assertEquals(204, client.send("PUT", "/boot-source", new BootSource()
                .kernelImagePath(assets.kernel().toString()).initrdPath(assets.defaultInitrd().toString())
                .bootArgs("console=ttyS0 reboot=k panic=-1")).status());
        assertEquals(204, client.send("PUT", "/machine-config",
                new MachineConfiguration().vcpuCount(1).memSizeMib(256)).status());
    }

    @Test
    void aGuestStartedOverTheApiBootsWhileTheApiAnswersAndCtrlAltDelEndsIt(@TempDir Path dir) throws Exception {
        GuestAssets assets = GuestAssets.open(GuestAssets.defaultCacheDir());
        assets.fetch(System.out);
        Path socket = dir.resolve("flint.sock");
        try (FlintProcess flint = FlintProcess.start("vmm", "--api-sock", socket.toString(), "--engine", "emu")) {
            for (int i = 0; i < 600 && !Files.exists(socket); i++) Thread.sleep(100);
            try (UnixSocketClient client = new UnixSocketClient(socket)) {
                putDefaultGuest(client, assets);
                var started = client.send("PUT", "/actions", action(InstanceActionInfo.ActionTypeEnum.INSTANCE_START));
                assertEquals(204, started.status(), started.body());

                // 50 GETs from 10 threads while the kernel boots: every one answered.
                ExecutorService pool = Executors.newFixedThreadPool(10);
                try {
                    List<Future<Integer>> answers = new ArrayList<>();
                    for (int i = 0; i < 50; i++) {
                        String path = List.of("/", "/machine-config", "/vm/config", "/version").get(i % 4);
                        answers.add(pool.submit(() -> client.get(path).status()));
                    }
                    for (Future<Integer> answer : answers) assertEquals(200, answer.get());
                } finally {
                    pool.shutdownNow();
                }

                flint.await("Flint guest: busybox", Duration.ofMinutes(10));
                var cad = client.send("PUT", "/actions", action(InstanceActionInfo.ActionTypeEnum.SEND_CTRL_ALT_DEL));
                assertEquals(204, cad.status(), cad.body());
            }
            // The guest kernel reboots on Ctrl-Alt-Del; a reboot ends the microVM cleanly, as in Firecracker.
            assertEquals(0, flint.exitCode(Duration.ofMinutes(3)), flint.output());
            assertTrue(flint.output().contains("reboot"), flint.output());
        }
    }
}
