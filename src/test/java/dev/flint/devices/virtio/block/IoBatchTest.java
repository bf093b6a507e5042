package dev.flint.devices.virtio.block;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.*;

/** Both ways a batch reaches the image (io_uring and the FileChannel fallback) move the same bytes and report the same outcomes. */
class IoBatchTest {
    private record Done(int tag, boolean ok) { }

    @Test
    void theRingAndTheFallbackWriteAndReadTheSameBytes(@TempDir Path dir) throws IOException {
        for (boolean ring : new boolean[] {true, false}) {
            Path file = dir.resolve("disk-" + ring);
            Files.write(file, new byte[64 * 1024]);
            try (DiskImage image = DiskImage.open(new DriveConfig(file, false));
                 IoBatch batch = new IoBatch(image, file.toString(), true, ring); Arena arena = Arena.ofConfined()) {
                if (ring && !batch.usesIoUring()) continue; // a host without io_uring: the fallback below covers it
                MemorySegment out = arena.allocate(8 * 4096), in = arena.allocate(8 * 4096);
                for (int i = 0; i < out.byteSize(); i++) out.set(JAVA_BYTE, i, (byte) (i * 13 + i / 4096 + (ring ? 1 : 2)));
                for (int b = 0; b < 8; b++) batch.add(b, out.asSlice(4096L * b, 4096), 4096L * (7 - b), true);
                List<Done> outcomes = new ArrayList<>();
                batch.submit((tag, ok) -> outcomes.add(new Done(tag, ok)));
                assertEquals(8, outcomes.size(), ring ? "io_uring" : "fallback");
                assertTrue(outcomes.stream().allMatch(Done::ok));
                assertTrue(batch.isEmpty());
                for (int b = 0; b < 8; b++) batch.add(100 + b, in.asSlice(4096L * b, 4096), 4096L * (7 - b), false);
                batch.add(200, in.asSlice(0, 512), 64 * 1024 - 256, false); // runs past the end of the file
                outcomes.clear();
                batch.submit((tag, ok) -> outcomes.add(new Done(tag, ok)));
                assertEquals(9, outcomes.size());
                assertTrue(outcomes.contains(new Done(200, false)), "a read past the end fails: " + outcomes);
                assertEquals(8, outcomes.stream().filter(Done::ok).count());
                assertEquals(-1, in.asSlice(512).mismatch(out.asSlice(512)), "read back what was written");
                byte[] onDisk = Files.readAllBytes(file);
                assertArrayEquals(out.asSlice(7 * 4096L, 4096).toArray(JAVA_BYTE), java.util.Arrays.copyOf(onDisk, 4096),
                        "block 7 of the buffer went to the start of the file");
            }
        }
    }

    @Test
    void aReadOnlyImageTakesNoWrites(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("ro");
        Files.write(file, new byte[4096]);
        try (DiskImage image = DiskImage.open(new DriveConfig(file, true)); Arena arena = Arena.ofConfined()) {
            IoBatch batch = image.batch();
            assertThrows(IllegalStateException.class, () -> batch.add(0, arena.allocate(512), 0, true));
        }
    }
}
