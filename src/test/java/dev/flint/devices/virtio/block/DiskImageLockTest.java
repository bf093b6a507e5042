package dev.flint.devices.virtio.block;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** The image lock as a second VMM process sees it (file locks are per process, so this needs another JVM). */
class DiskImageLockTest {
    @TempDir
    Path dir;

    private String probe(String drive) throws IOException, InterruptedException {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(java.toString(), "-cp", System.getProperty("java.class.path"),
                LockProbe.class.getName(), drive).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertEquals(0, p.waitFor());
        return out;
    }

    @Test
    void aSecondProcessCannotOpenAnImageInUse() throws IOException, InterruptedException {
        Path img = dir.resolve("shared.img");
        Files.write(img, new byte[4096]);
        try (DiskImage writer = DiskImage.open(new DriveConfig(img, false))) {
            assertFalse(writer.readOnly());
            assertEquals("disk image is in use by another VM (locked): " + img, probe(img.toString()));
            assertEquals("disk image is in use by another VM (locked): " + img, probe(img + ",ro"));
        }
        try (DiskImage reader = DiskImage.open(new DriveConfig(img, true))) {
            assertTrue(reader.readOnly());
            assertEquals("opened 8", probe(img + ",ro"), "readers share");
            assertEquals("disk image is in use by another VM (locked): " + img, probe(img.toString()));
        }
        assertEquals("opened 8", probe(img.toString()), "the lock goes with the VM that held it");
    }
}
