package dev.flint.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.guest.GuestAssets;
import dev.flint.guest.RootfsImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A guest booted from an ext4 root file system that {@code flint image build} made: the default initramfs
 * switches to /dev/vda, the guest writes files and syncs, and Flint is then killed with SIGKILL. The host
 * finds the guest's data in the image and e2fsck finds the file system clean.
 */
@Tag("guest")
class EmuRootfsTest {
    private static final Duration BOOT = Duration.ofMinutes(10);

    /** Runs in the guest from the image's init: write, sync, report, leave the root clean, wait to be killed. */
    private static final String RC_LOCAL = """
            #!/bin/sh
            echo "ROOTFS-BOOTED root=$(awk '$2 == "/" {print $1}' /proc/mounts | tail -1)"
            echo written-by-the-guest > /root/guest.txt
            dd if=/dev/urandom of=/root/random.bin bs=65536 count=16 2>/dev/null
            sync
            echo "ROOTFS-SYNCED $(sha256sum /root/random.bin)"
            mount -o remount,ro /
            echo "ROOTFS-READONLY status=$?"
            sleep 100000
            """;

    @BeforeAll
    static void fetchGuest() {
        GuestAssets.open(GuestAssets.defaultCacheDir()).fetch(System.out);
    }

    @Test
    void theGuestBootsFromExt4AndItsSyncedDataSurvivesKillNine(@TempDir Path dir) throws Exception {
        GuestAssets guest = GuestAssets.open(GuestAssets.defaultCacheDir());
        Path image = RootfsImage.of(RootfsImage.Flavour.BUSYBOX, guest).withExecutable("/etc/rc.local", RC_LOCAL)
                .build(dir.resolve("root.ext4"), 64, false, System.out);
        assertEquals(0, run("e2fsck", "-fn", image.toString()).exit(), "a fresh image is clean");

        String guestSum;
        try (FlintProcess flint = FlintProcess.start("run", "--engine", "emu", "--memory", "256",
                "--drive", image.toString(), "--cmdline", "console=ttyS0 root=/dev/vda panic=-1")) {
            flint.noInput();
            flint.await("ROOTFS-BOOTED root=/dev/vda", BOOT);
            flint.await("ROOTFS-READONLY status=0", BOOT);
            Matcher m = Pattern.compile("ROOTFS-SYNCED ([0-9a-f]{64})").matcher(flint.output());
            assertTrue(m.find(), flint.output());
            guestSum = m.group(1);
            flint.kill();
        }

        Result fsck = run("e2fsck", "-fn", image.toString());
        assertEquals(0, fsck.exit(), "e2fsck after kill -9:\n" + fsck.output());
        assertEquals("written-by-the-guest\n", run("debugfs", "-R", "cat /root/guest.txt", image.toString()).output());
        Path dumped = dir.resolve("random.bin");
        run("debugfs", "-R", "dump /root/random.bin " + dumped, image.toString());
        byte[] data = Files.readAllBytes(dumped);
        assertEquals(1 << 20, data.length);
        assertEquals(guestSum, HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data)));
    }

    @Test
    void aDebianMinbaseImageBootsAndPowersOffClean(@TempDir Path dir) throws Exception {
        GuestAssets guest = GuestAssets.open(GuestAssets.defaultCacheDir());
        Path image = RootfsImage.of(RootfsImage.Flavour.DEBIAN, guest)
                .withExecutable("/etc/rc.local", """
                        #!/bin/sh
                        echo "DEBIAN-ROOT $(cat /etc/debian_version) $(dpkg-query -W -f='${Package}' dpkg)"
                        echo from-debian > /root/debian.txt
                        sync
                        mount -o remount,ro /
                        /bin/busybox poweroff -f
                        """)
                .build(dir.resolve("debian.ext4"), 1024, false, System.out);
        try (FlintProcess flint = FlintProcess.start("run", "--engine", "emu", "--memory", "256",
                "--drive", image.toString(), "--cmdline", "console=ttyS0 root=/dev/vda panic=-1")) {
            flint.noInput();
            flint.await("DEBIAN-ROOT ", BOOT);
            assertEquals(0, flint.exitCode(BOOT), flint.output());
            assertTrue(flint.output().matches("(?s).*DEBIAN-ROOT \\d+\\.\\d+ dpkg.*"), flint.output());
        }
        assertEquals(0, run("e2fsck", "-fn", image.toString()).exit());
        assertEquals("from-debian\n", run("debugfs", "-R", "cat /root/debian.txt", image.toString()).output());
    }

    private record Result(int exit, String output) {}

    /** Runs a host tool; stdout only (debugfs prints its banner on stderr). */
    private static Result run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Result(p.waitFor(), out);
    }
}
