package dev.flint.devices.virtio.block;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A write the driver flushed is in the image when the VMM is killed with SIGKILL right after, even though the
 * flush completed while reads of the same batch were still in flight (docs/block-path.md, Round 11).
 */
class VirtioBlockDurabilityTest {
    @TempDir
    Path dir;

    @Test
    void flushedWriteSurvivesKillNineWithReadsInFlight() throws Exception {
        byte[] image = new byte[16 << 20];
        for (int i = 0; i < image.length; i += 4096) image[i] = (byte) (i >>> 12); // pages in the cache, not all zero
        Path img = Files.write(dir.resolve("disk.img"), image);
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(java.toString(), "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), PipelinedFlushProbe.class.getName(), img.toString())
                .redirectErrorStream(true).start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = out.readLine()) != null && !line.equals("flushed")) { } // JVM warnings first
            assertEquals("flushed", line, "the probe ended before flushing");
        } finally {
            p.destroyForcibly(); // SIGKILL: no shutdown hooks, nothing closed
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        }
        byte[] disk = Files.readAllBytes(img);
        byte[] expected = new byte[4096];
        Arrays.fill(expected, (byte) 0x5A);
        assertArrayEquals(expected, Arrays.copyOfRange(disk, 16 * 512, 16 * 512 + 4096));
    }
}
