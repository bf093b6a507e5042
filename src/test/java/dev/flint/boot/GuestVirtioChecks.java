package dev.flint.boot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Virtio disks and entropy as a user of the default guest sees them, whichever engine runs it: a
 * read-only disk the host filled, a writable one, and the hardware RNG, all driven from the guest's
 * shell. Shared by the emu test on this host and the kvm test that runs nested.
 */
public final class GuestVirtioChecks {
    private static final Duration BOOT = Duration.ofMinutes(10);
    private static final Duration STEP = Duration.ofMinutes(2);

    private final HostDataDisk data;
    public final Path scratchImage;

    private GuestVirtioChecks(HostDataDisk data, Path scratchImage) {
        this.data = data;
        this.scratchImage = scratchImage;
    }

    /** 8 MiB of random data for /dev/vda (read-only) and an empty 1 MiB /dev/vdb, in {@code dir}. */
    public static GuestVirtioChecks create(Path dir) throws IOException, GeneralSecurityException {
        return new GuestVirtioChecks(HostDataDisk.write(dir.resolve("data.img"), 8 << 20, 42),
                Files.write(dir.resolve("scratch.img"), new byte[1 << 20]));
    }

    /**
     * {@code flint run --engine ENGINE} with the two drives and {@code --rng}: the checks typed at the
     * guest's shell, {@code poweroff -f} exits 0, then the host side of the disks is verified.
     */
    public static void overTheCli(String engine, Path dir) throws Exception {
        GuestVirtioChecks checks = create(dir);
        List<String> args = new ArrayList<>(List.of("run", "--engine", engine, "--memory", "256",
                "--drive", checks.data.image() + ",ro", "--drive", checks.scratchImage.toString(), "--rng"));
        try (FlintProcess flint = FlintProcess.start(args.toArray(String[]::new))) {
            flint.await("Flint guest: busybox", BOOT);
            flint.await("# ", STEP);
            checks.runInGuest(flint, STEP);
            flint.type("poweroff -f");
            assertEquals(0, flint.exitCode(STEP), flint.output());
        }
        checks.verifyHostSide();
    }

    /** Types the checks at the guest's shell prompt; each waits for text only the command's output contains. */
    public void runInGuest(FlintProcess flint, Duration step) throws IOException, InterruptedException {
        flint.type("sha256sum /dev/vda");
        flint.await(data.sha256() + "  /dev/vda", step);
        flint.type("echo flint-wrote-this | dd of=/dev/vdb bs=512 conv=sync && sync && echo write-$((1+1))-done");
        flint.await("write-2-done", step);
        flint.type("dd if=/dev/zero of=/dev/vda bs=512 count=1; echo ro-exit=$?");
        flint.await("ro-exit=1", step);
        flint.type("echo rng-bytes=$(head -c 64 /dev/hwrng | wc -c)");
        flint.await("rng-bytes=64", step);
    }

    /** After the guest ended: its write is in the scratch image, the read-only image is untouched. */
    public void verifyHostSide() throws IOException {
        byte[] scratch = Files.readAllBytes(scratchImage);
        byte[] written = "flint-wrote-this\n".getBytes(StandardCharsets.US_ASCII);
        assertArrayEquals(written, Arrays.copyOf(scratch, written.length), "the guest's write must be on the host disk");
        data.assertUntouched();
    }
}
