package dev.flint.boot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.devices.virtio.block.DriveConfig;
import dev.flint.guest.GuestAssets;
import dev.flint.machine.StopReason;
import dev.flint.vmm.Engines;
import dev.flint.vmm.VmConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * NVMe disks as a user of the default guest sees them, whichever engine runs it: the stock kernel's nvme
 * driver reads a read-only volume the host filled (and cannot write it), sees its serial, writes another
 * volume that the host then reads, and finds a namespace attached while it runs (through
 * {@code Vmm.attachNvmeNamespace}, what the cloud's volume attach uses) as a new /dev/nvme0n2 without a
 * reboot. The machine runs in this JVM so the test can call the Vmm. On kvm the interrupts must have
 * gone through the engine's routes (irqfd).
 */
public final class GuestNvmeChecks {
    private static final Duration BOOT = Duration.ofMinutes(10), STEP = Duration.ofMinutes(2);
    private static final String SERIAL = "vol0123456789abcdef0";

    private GuestNvmeChecks() {}

    public static void inProcess(String engine, Path dir) throws Exception {
        HostDataDisk data = HostDataDisk.write(dir.resolve("data.img"), 4 << 20, 42);
        HostDataDisk hot = HostDataDisk.write(dir.resolve("hot.img"), 2 << 20, 43);
        Path scratch = Files.write(dir.resolve("scratch.img"), new byte[1 << 20]);
        GuestAssets guest = GuestAssets.open(GuestAssets.defaultCacheDir());
        VmConfig config = VmConfig.builder(guest.kernel()).initrd(guest.defaultInitrd()).cmdline(VmConfig.DEFAULT_CMDLINE)
                .cpus(2).memoryMib(256).engine(engine)
                .drives(List.of(new DriveConfig(data.image(), true, DriveConfig.Interface.NVME, SERIAL),
                        new DriveConfig(scratch, false, DriveConfig.Interface.NVME, null))).build();
        try (InProcessGuest vm = new InProcessGuest(config, Engines.standard().select(engine))) {
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
            // Wait until the new disk opens, not only until its node exists: the node appears while the kernel is
            // still adding the disk, and an open in that window fails with ENXIO.
            vm.type("i=0; while ! dd if=/dev/nvme0n2 of=/dev/null bs=512 count=1 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; sha256sum /dev/nvme0n2");
            vm.await(hot.sha256() + "  /dev/nvme0n2", STEP);
            vm.type("poweroff -f");
            assertInstanceOf(StopReason.PowerOff.class, vm.vmm.awaitStop(STEP).orElseThrow());
            Map<String, Long> counters = vm.vmm.counters();
            assertTrue(counters.get("nvme.read_bytes") >= (4 << 20) + (2 << 20), counters.toString());
            assertEquals(1L, counters.get("nvme.async_events"), counters.toString());
            assertTrue(counters.get("nvme.shadow_doorbell_configs") >= 1, "Linux uses shadow doorbells: " + counters);
            if (engine.equals("kvm")) {
                assertTrue(counters.get("nvme.msi_routed") > 0 && counters.get("nvme.msi_sent") == 0,
                        "NVMe interrupts must go through irqfd routes on kvm: " + counters);
                assertTrue(counters.get("nvme.notify_eventfd") > 0, "I/O queue rings must come by ioeventfd on kvm: " + counters);
            }
        }
        data.assertUntouched();
        hot.assertUntouched();
    }
}
