package dev.flint.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A guest booted from an ext4 root file system that {@code flint image build --rootfs busybox} made,
 * whichever engine runs it: the default initramfs switches to /dev/vda; at the image's shell the guest
 * reads 8 MiB the host wrote on a read-only second drive (checksum must match), is refused a write to it,
 * writes files to its root and syncs. Then the VM ends one of two ways (see {@link Ending}), and the host
 * finds the guest's files in the image, e2fsck finds the file system clean, and the data drive is untouched.
 * Shared by the emu test on this host and the kvm test that runs nested.
 */
public final class GuestRootfsChecks {
    private static final Duration BOOT = Duration.ofMinutes(10);
    private static final Duration STEP = Duration.ofMinutes(2);

    /** How the VM ends once the guest's data is synced. */
    public enum Ending {
        /** {@code exit} at the image's shell: its init syncs, remounts / read-only and powers off (exit 0). */
        POWER_OFF,
        /** The guest remounts / read-only itself, then Flint gets SIGKILL: synced data must already be on the host. */
        KILL_NINE
    }

    private GuestRootfsChecks() {}

    public static void overTheCli(String engine, Path dir, Ending ending) throws Exception {
        Path image = dir.resolve("root.ext4");
        try (FlintProcess build = FlintProcess.start("image", "build", "--rootfs", "busybox", "-o", image.toString())) {
            assertEquals(0, build.exitCode(BOOT), build.output());
        }
        assertClean(image, "a fresh image");
        HostDataDisk data = HostDataDisk.write(dir.resolve("data.img"), 8 << 20, 4);

        String guestSum;
        try (FlintProcess flint = FlintProcess.start("run", "--engine", engine, "--memory", "256",
                "--drive", image.toString(), "--drive", data.image() + ",ro",
                "--cmdline", "console=ttyS0 root=/dev/vda panic=-1")) {
            flint.await("Flint guest: root file system on /dev/vda.", BOOT);
            flint.await("# ", STEP);
            // Typed lines are echoed; each check waits for text only the command's output contains.
            flint.type("sha256sum /dev/vdb");
            flint.await(data.sha256() + "  /dev/vdb", STEP);
            flint.type("dd if=/dev/zero of=/dev/vdb bs=512 count=1; echo ro-exit=$?");
            flint.await("ro-exit=1", STEP);
            flint.type("echo written-by-the-guest > /root/guest.txt && dd if=/dev/urandom of=/root/random.bin bs=65536 count=16"
                    + " 2>/dev/null && sync && sha256sum /root/random.bin && echo synced-$((1+1))");
            flint.await("synced-2", STEP);
            Matcher m = Pattern.compile("([0-9a-f]{64})  /root/random.bin").matcher(flint.output());
            assertTrue(m.find(), flint.output());
            guestSum = m.group(1);
            switch (ending) {
                case POWER_OFF -> {
                    flint.type("exit");
                    assertEquals(0, flint.exitCode(STEP), flint.output());
                }
                case KILL_NINE -> {
                    flint.type("mount -o remount,ro /; echo remount-$?-done");
                    flint.await("remount-0-done", STEP);
                    flint.kill();
                }
            }
        }

        assertClean(image, "the image after " + ending);
        assertEquals("written-by-the-guest\n", debugfs(image, "cat /root/guest.txt").output());
        Path dumped = dir.resolve("random.bin");
        debugfs(image, "dump /root/random.bin " + dumped);
        byte[] written = Files.readAllBytes(dumped);
        assertEquals(1 << 20, written.length);
        assertEquals(guestSum, HostDataDisk.sha256(written));
        data.assertUntouched();
    }

    /** e2fsck finds nothing to fix in {@code image}. */
    static void assertClean(Path image, String what) throws IOException, InterruptedException {
        HostTool fsck = HostTool.run("e2fsck", "-fn", image.toString());
        assertEquals(0, fsck.exit(), what + " must be clean; e2fsck -fn:\n" + fsck.output());
    }

    /** A debugfs request against {@code image} (read-only). */
    static HostTool debugfs(Path image, String request) throws IOException, InterruptedException {
        return HostTool.run("debugfs", "-R", request, image.toString());
    }

    record HostTool(int exit, String output) {
        /** Runs a host tool; stdout only (debugfs prints its banner on stderr). */
        static HostTool run(String... command) throws IOException, InterruptedException {
            Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            return new HostTool(p.waitFor(), out);
        }
    }
}
