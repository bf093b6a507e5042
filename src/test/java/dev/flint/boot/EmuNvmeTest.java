package dev.flint.boot;

import dev.flint.devices.virtio.block.DriveConfig;
import dev.flint.engine.emu.EmuEngine;
import dev.flint.guest.GuestAssets;
import dev.flint.machine.StopReason;
import dev.flint.vmm.VmConfig;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * NVMe disks as a user of the default guest sees them on the emu engine: the stock kernel's nvme driver
 * reads a read-only volume the host filled (and cannot write it), writes another that the host then
 * reads, and finds a namespace attached while it runs (through {@code Vmm.attachNvmeNamespace}, what the
 * cloud's volume attach uses) as a new /dev/nvme0n2 without a reboot.
 */
@Tag("guest")
class EmuNvmeTest {
    private static final Duration BOOT = Duration.ofMinutes(10), STEP = Duration.ofMinutes(2);
    private static final String SERIAL = "vol0123456789abcdef0";

    @BeforeAll
    static void fetchGuest() {
        GuestAssets.open(GuestAssets.defaultCacheDir()).fetch(System.out);
    }

    @Test
    void theGuestReadsWritesAndFindsANamespaceAttachedWhileItRuns(@TempDir Path dir) throws Exception {
        HostDataDisk data = HostDataDisk.write(dir.resolve("data.img"), 4 << 20, 42);
        HostDataDisk hot = HostDataDisk.write(dir.resolve("hot.img"), 2 << 20, 43);
        Path scratch = Files.write(dir.resolve("scratch.img"), new byte[1 << 20]);
        GuestAssets guest = GuestAssets.open(GuestAssets.defaultCacheDir());
        VmConfig config = new VmConfig(guest.kernel(), guest.defaultInitrd(), VmConfig.DEFAULT_CMDLINE, 2, 256, "emu",
                List.of(new DriveConfig(data.image(), true, DriveConfig.Interface.NVME, SERIAL),
                        new DriveConfig(scratch, false, DriveConfig.Interface.NVME, null)), false, false);
        try (InProcessGuest vm = new InProcessGuest(config, EmuEngine.standard())) {
            vm.await("Flint guest: busybox", BOOT);
            vm.await("# ", STEP);
            vm.type("sha256sum /dev/nvme0n1");
            vm.await(data.sha256() + "  /dev/nvme0n1", STEP);
            vm.type("echo ro=$(cat /sys/block/nvme0n1/ro) serial=$(cat /sys/class/nvme/nvme0/serial)");
            vm.await("ro=1 serial=" + SERIAL, STEP);
            vm.type("dd if=/dev/zero of=/dev/nvme0n1 bs=512 count=1; echo ro-exit=$?");
            vm.await("ro-exit=1", STEP);
            vm.type("echo flint-wrote-this | dd of=/dev/nvme1n1 bs=512 conv=sync && sync && echo write-$((1+1))-done");
            vm.await("write-2-done", STEP);
            byte[] written = "flint-wrote-this\n".getBytes(StandardCharsets.US_ASCII);
            assertArrayEquals(written, Arrays.copyOf(Files.readAllBytes(scratch), written.length),
                    "after the guest's sync its write is in the host's file");

            assertEquals(2, vm.vmm.attachNvmeNamespace(0, new DriveConfig(hot.image(), true, DriveConfig.Interface.NVME, null)));
            vm.type("i=0; while [ ! -b /dev/nvme0n2 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; sha256sum /dev/nvme0n2");
            vm.await(hot.sha256() + "  /dev/nvme0n2", STEP);
            vm.type("poweroff -f");
            assertInstanceOf(StopReason.PowerOff.class, vm.vmm.awaitStop(STEP).orElseThrow());
            assertTrue(vm.vmm.counters().get("nvme.read_bytes") > 0);
        }
        data.assertUntouched();
        hot.assertUntouched();
    }
}
