package dev.flint.devices.vhostuser;

import dev.flint.guest.GuestAssets;
import dev.flint.guest.Initramfs;
import dev.flint.guest.InitramfsBuilder;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The guest side of the vhost-user boot tests: a disk whose first sector holds a marker from the host,
 * and an init that loads the stock kernel's virtio modules, prints what it reads from /dev/vda's first
 * sector, writes its own marker to the second sector with a flush, and powers off.
 */
final class VhostUserGuest {
    static final String HOST_MARKER = "host-marker-for-vhost-user";
    static final String GUEST_MARKER = "guest-wrote-through-vhost-user";

    private VhostUserGuest() {}

    /** A 4 MiB image with {@link #HOST_MARKER} at byte 0. */
    static Path image(Path dir) throws IOException {
        byte[] disk = new byte[4 << 20];
        byte[] marker = (HOST_MARKER + "\n").getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(marker, 0, disk, 0, marker.length);
        return Files.write(dir.resolve("vhost.img"), disk);
    }

    /** The initramfs (gzip cpio) with the stock kernel's virtio-blk modules and the test's init. */
    static Path initramfs(GuestAssets guest, Path dir) throws IOException {
        Path modules = guest.modulesDir();
        String init = """
                #!/bin/busybox sh
                /bin/busybox --install -s /bin
                export PATH=/bin
                mount -t proc proc /proc
                mount -t sysfs sysfs /sys
                mount -t devtmpfs devtmpfs /dev 2>/dev/null
                for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk; do
                  insmod /lib/modules/$m.ko 2>/dev/null
                done
                i=0
                while [ ! -b /dev/vda ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
                echo "guest-read:$(dd if=/dev/vda bs=512 count=1 2>/dev/null | head -n 1)"
                echo %s | dd of=/dev/vda bs=512 seek=1 conv=sync,fsync 2>/dev/null && echo guest-write-ok
                poweroff -f
                """.formatted(GUEST_MARKER);
        InitramfsBuilder builder = new InitramfsBuilder()
                .directory("/bin", 0755).file("/bin/busybox", guest.busybox(), 0755)
                .directory("/dev", 0755).charDevice("/dev/console", 0600, 5, 1).charDevice("/dev/null", 0666, 1, 3)
                .directory("/proc", 0555).directory("/sys", 0555).directory("/tmp", 01777)
                .directory("/lib", 0755).directory("/lib/modules", 0755)
                .file("/init", init, 0755);
        for (String module : Initramfs.VIRTIO_MODULES) {
            Path file = modules.resolve(module);
            if (module.contains("virtio") && !module.contains("rng") && !module.contains("net")) {
                builder.file("/lib/modules/" + file.getFileName(), file, 0644);
            }
        }
        Path out = dir.resolve("vhost-guest.cpio.gz");
        builder.write(out);
        return out;
    }

    /** The console shows the host's marker read through the device; the image holds the guest's. */
    static void assertReadAndWritten(String console, Path image) throws IOException {
        assertTrue(console.contains("guest-read:" + HOST_MARKER), "the guest must read the host's marker\n" + console);
        assertTrue(console.contains("guest-write-ok"), "the guest's write must succeed\n" + console);
        byte[] sector = Arrays.copyOfRange(Files.readAllBytes(image), 512, 512 + GUEST_MARKER.length() + 1);
        assertArrayEquals((GUEST_MARKER + "\n").getBytes(StandardCharsets.US_ASCII), sector,
                "the guest's write must be in the image file");
    }
}
