package dev.flint.devices;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The durability tests' shared step: a probe class runs a device in a JVM of its own, writes 4 KiB of 0x5A at sector
 * 16 of an image, flushes and prints {@code flushed}; the JVM is then killed with SIGKILL (no shutdown hooks, nothing
 * closed), and the image on the host disk must hold the write.
 */
public final class KilledAfterFlush {
    private KilledAfterFlush() { }

    /** Runs {@code probe}'s main with {@code image} until it prints {@code flushed}, kills it, checks the write. */
    public static void assertWriteSurvives(Class<?> probe, Path image) throws IOException, InterruptedException {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(java.toString(), "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), probe.getName(), image.toString()).redirectErrorStream(true).start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = out.readLine()) != null && !line.equals("flushed")) { } // JVM warnings first
            assertEquals("flushed", line, "the probe ended before flushing");
        } finally {
            p.destroyForcibly(); // SIGKILL: no shutdown hooks, nothing closed
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        }
        byte[] disk = Files.readAllBytes(image);
        byte[] expected = new byte[4096];
        Arrays.fill(expected, (byte) 0x5A);
        assertArrayEquals(expected, Arrays.copyOfRange(disk, 16 * 512, 16 * 512 + 4096));
    }
}
