package dev.flint.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.boot.HostDataDisk;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The EBS-style attach as a Firecracker-API user does it, on the emu engine: {@code flint vmm} boots the
 * stock guest with one NVMe controller and no namespace ({@code nvme_controllers} in /machine-config),
 * Linux binds to the empty controller, and a volume PUT to /drives while the guest runs appears as
 * /dev/nvme0n1 with the data the host wrote. A volume another process holds locked is refused first. A
 * second volume's file grown on the host and PATCHed with its own path grows the guest's block device.
 */
@Tag("guest")
class ApiNvmeHotAttachGuestTest {
    private static final Duration STEP = Duration.ofMinutes(2);

    private static String nvmeDrive(String id, Path image) {
        return "{\"drive_id\": \"" + id + "\", \"path_on_host\": \"" + image
                + "\", \"is_root_device\": false, \"is_read_only\": true, \"interface\": \"nvme\"}";
    }

    @Test
    void aVolumeAttachedThroughTheApiAppearsOnTheEmptyController(@TempDir Path dir) throws Exception {
        HostDataDisk vol = HostDataDisk.write(dir.resolve("vol.img"), 2 << 20, 44);
        Path held = Files.write(dir.resolve("held.img"), new byte[1 << 20]);
        EmptyNvmeControllerGuest.run(dir, STEP, (flint, client) -> {
            // Linux takes the controller with an empty active namespace list: nvme0 exists, no block device.
            flint.type("i=0; while [ ! -e /sys/class/nvme/nvme0 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done;"
                    + " echo serial=$(cat /sys/class/nvme/nvme0/serial) namespaces=$(ls /sys/block | grep -c nvme)");
            flint.await("serial=flint-nvme0 namespaces=0", STEP);

            try (FileChannel other = FileChannel.open(held, StandardOpenOption.WRITE); FileLock lock = other.lock()) {
                var refused = client.sendRaw("PUT", "/drives/held", nvmeDrive("held", held).replace("true, \"interface", "false, \"interface"));
                assertEquals(400, refused.status(), refused.body());
                assertTrue(refused.fault().contains("in use by another VM"), refused.body());
            }

            var attached = client.sendRaw("PUT", "/drives/vol", nvmeDrive("vol", vol.image()));
            assertEquals(204, attached.status(), attached.body());
            flint.type("i=0; while ! dd if=/dev/nvme0n1 of=/dev/null bs=512 count=1 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; sha256sum /dev/nvme0n1");
            flint.await(vol.sha256() + "  /dev/nvme0n1", STEP);

            // Detach: the event makes the kernel rescan and drop the disk; the image is free to attach again.
            var detached = client.sendRaw("DELETE", "/drives/vol", null);
            assertEquals(204, detached.status(), detached.body());
            flint.type("i=0; while [ -e /sys/block/nvme0n1 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done;"
                    + " echo after-detach=$(ls /sys/block | grep -c nvme)");
            flint.await("after-detach=0", STEP);
            assertEquals(204, client.sendRaw("PUT", "/drives/vol", nvmeDrive("vol", vol.image())).status());
            flint.type("i=0; while ! dd if=/dev/nvme0n1 of=/dev/null bs=512 count=1 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; echo again=$(sha256sum < /dev/nvme0n1)");
            flint.await("again=" + vol.sha256(), STEP);

            // Growing a volume while attached (EBS ModifyVolume): the host grows the file, PATCHes the drive with
            // its own path, and the stock kernel takes the new capacity from the event, no reboot.
            Path grow = Files.write(dir.resolve("grow.img"), new byte[1 << 20]);
            assertEquals(204, client.sendRaw("PUT", "/drives/grow", nvmeDrive("grow", grow).replace("true, \"interface", "false, \"interface"))
                    .status());
            flint.type("i=0; while [ ! -e /sys/block/nvme0n2 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done;"
                    + " echo before-growth=$(cat /sys/block/nvme0n2/size)");
            flint.await("before-growth=2048", STEP);
            try (var f = new java.io.RandomAccessFile(grow.toFile(), "rw")) {
                f.setLength(4 << 20);
            }
            var resized = client.sendRaw("PATCH", "/drives/grow", "{\"drive_id\": \"grow\", \"path_on_host\": \"" + grow + "\"}");
            assertEquals(204, resized.status(), resized.body());
            flint.type("i=0; while [ \"$(cat /sys/block/nvme0n2/size)\" = 2048 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done;"
                    + " echo after-growth=$(cat /sys/block/nvme0n2/size)");
            flint.await("after-growth=8192", STEP);
        });
        vol.assertUntouched();
    }
}
