package dev.flint.boot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.flint.guest.GuestAssets;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Virtio disks and entropy as a user of the default guest sees them on the emu engine: a read-only disk
 * the host filled, a writable one, and the hardware RNG, all driven from the guest's shell.
 */
@Tag("guest")
class EmuVirtioTest {
    private static final Duration BOOT = Duration.ofMinutes(10);
    private static final Duration STEP = Duration.ofMinutes(2);

    @BeforeAll
    static void fetchGuest() {
        GuestAssets.open(GuestAssets.defaultCacheDir()).fetch(System.out);
    }

    @Test
    void theGuestReadsHostDataWritesItsOwnDiskIsRefusedOnAReadOnlyOneAndReadsTheRng(@TempDir Path dir) throws Exception {
        byte[] data = new byte[8 << 20];
        new Random(42).nextBytes(data);
        Path dataImage = Files.write(dir.resolve("data.img"), data);
        Path scratchImage = Files.write(dir.resolve("scratch.img"), new byte[1 << 20]);
        String expectedSum = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));

        try (FlintProcess flint = FlintProcess.start("run", "--engine", "emu", "--memory", "256",
                "--drive", dataImage + ",ro", "--drive", scratchImage.toString(), "--rng")) {
            flint.await("Flint guest: busybox", BOOT);
            flint.await("# ", STEP);
            // Typed lines are echoed; each check waits for text only the command's output contains.
            flint.type("sha256sum /dev/vda");
            flint.await(expectedSum + "  /dev/vda", STEP);
            flint.type("echo flint-wrote-this | dd of=/dev/vdb bs=512 conv=sync && sync && echo write-$((1+1))-done");
            flint.await("write-2-done", STEP);
            flint.type("dd if=/dev/zero of=/dev/vda bs=512 count=1; echo ro-exit=$?");
            flint.await("ro-exit=1", STEP);
            flint.type("echo rng-bytes=$(head -c 64 /dev/hwrng | wc -c)");
            flint.await("rng-bytes=64", STEP);
            flint.type("poweroff -f");
            assertEquals(0, flint.exitCode(STEP), flint.output());
        }

        byte[] scratch = Files.readAllBytes(scratchImage);
        byte[] written = "flint-wrote-this\n".getBytes(StandardCharsets.US_ASCII);
        assertArrayEquals(written, Arrays.copyOf(scratch, written.length), "the guest's write must be on the host disk");
        assertArrayEquals(data, Files.readAllBytes(dataImage), "a read-only drive must be left untouched");
    }
}
