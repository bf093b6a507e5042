package dev.flint.cloud.compute;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A guest that prints forever must not fill the host's disk: its console log is cut back to its newest bytes. */
class VmmRuntimeLogTest {
    @Test
    void aRunawayLogKeepsOnlyItsNewest64KiB(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("console.log");
        byte[] content = new byte[(int) VmmRuntime.LOG_LIMIT + 12_345];
        new Random(7).nextBytes(content);
        Files.write(log, content);
        assertTrue(VmmRuntime.trim(log));
        byte[] kept = Files.readAllBytes(log);
        assertEquals(VmmRuntime.CONSOLE_BYTES, kept.length);
        assertArrayEquals(Arrays.copyOfRange(content, content.length - VmmRuntime.CONSOLE_BYTES, content.length), kept);
        assertFalse(VmmRuntime.trim(log), "a small log stays as it is");
    }
}
