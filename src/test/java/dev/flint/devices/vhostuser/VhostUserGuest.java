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
        return image(dir, "vhost.img");
    }

    static Path image(Path dir, String name) throws IOException {
        byte[] disk = new byte[4 << 20];
        byte[] marker = (HOST_MARKER + "\n").getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(marker, 0, disk, 0, marker.length);
        return Files.write(dir.resolve(name), disk);
    }

    /** The shell lines that read the host's marker from DISK and write the guest's, printing DISK-read:... and DISK-write-ok. */
    static String readAndWrite(String disk) {
        return ("echo \"%1$s-read:$(dd if=/dev/%1$s bs=512 count=1 2>/dev/null | head -n 1)\"\n"
                + "echo %2$s | dd of=/dev/%1$s bs=512 seek=1 conv=sync,fsync 2>/dev/null && echo %1$s-write-ok\n").formatted(disk, GUEST_MARKER);
    }

    /** The QEMU guest: one disk. */
    static Path initramfs(GuestAssets guest, Path dir) throws IOException {
        return initramfs(guest, dir, "vda", readAndWrite("vda"));
    }

    /**
     * The initramfs (gzip cpio) with the stock kernel's virtio-blk modules; init waits for /dev/{@code lastDisk},
     * runs {@code body}, then powers off.
     */
    static Path initramfs(GuestAssets guest, Path dir, String lastDisk, String body) throws IOException {
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
                while [ ! -b /dev/%s ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
                %s
                poweroff -f
                """.formatted(lastDisk, body);
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

    /** The console shows the host's marker read through /dev/vda; the image holds the guest's. */
    static void assertReadAndWritten(String console, Path image) throws IOException {
        assertReadAndWritten(console, "vda", image);
    }

    static void assertReadAndWritten(String console, String disk, Path image) throws IOException {
        assertTrue(console.contains(disk + "-read:" + HOST_MARKER), "the guest must read the host's marker from " + disk + "\n" + console);
        assertTrue(console.contains(disk + "-write-ok"), "the guest's write to " + disk + " must succeed\n" + console);
        byte[] sector = Arrays.copyOfRange(Files.readAllBytes(image), 512, 512 + GUEST_MARKER.length() + 1);
        assertArrayEquals((GUEST_MARKER + "\n").getBytes(StandardCharsets.US_ASCII), sector,
                "the guest's write must be in the image file");
    }
}
