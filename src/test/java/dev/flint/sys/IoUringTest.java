package dev.flint.sys;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.*;

class IoUringTest {
    @Test
    void kernelStructuresHaveTheAbiSizes() {
        assertEquals(120, IoUring.PARAMS.byteSize(), "struct io_uring_params");
        assertEquals(64, IoUring.SQE.byteSize(), "struct io_uring_sqe");
        assertEquals(16, IoUring.CQE.byteSize(), "struct io_uring_cqe");
        assertEquals(40, IoUring.SQ_OFFSETS.byteSize(), "struct io_sqring_offsets");
    }

    @Test
    void writesThenReadsABatchOfBlocksAndReportsEachByItsUserData(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("data");
        Files.write(file, new byte[64 * 1024]);
        IoUring ring;
        try {
            ring = IoUring.open(32);
        } catch (ErrnoException e) {
            org.junit.jupiter.api.Assumptions.abort("io_uring unavailable here: " + e.getMessage());
            return;
        }
        int fd = Libc.open(file.toString(), Libc.O_RDWR | Libc.O_CLOEXEC);
        try (ring; Arena arena = Arena.ofConfined()) {
            assertTrue(ring.capacity() >= 32);
            MemorySegment out = arena.allocate(16 * 4096, 4096), in = arena.allocate(16 * 4096, 4096);
            for (int i = 0; i < out.byteSize(); i++) out.set(JAVA_BYTE, i, (byte) (i * 7 + i / 4096));
            for (int b = 0; b < 16; b++) assertTrue(ring.write(fd, out.asSlice(4096L * b, 4096), 4096L * b, 100 + b));
            assertTrue(ring.fsync(fd, 999));
            Map<Long, Integer> results = new HashMap<>();
            int submitted = ring.submitAndWait(17);
            assertEquals(17, submitted);
            while (results.size() < 17) {
                ring.reap(results::put);
                if (results.size() < 17) ring.submitAndWait(1);
            }
            for (int b = 0; b < 16; b++) assertEquals(4096, results.get(100L + b), "write " + b);
            assertEquals(0, results.get(999L), "fdatasync");
            results.clear();
            // Reads in reverse order, one past the end of the file: it comes back short (0 bytes).
            for (int b = 15; b >= 0; b--) assertTrue(ring.read(fd, in.asSlice(4096L * b, 4096), 4096L * b, b));
            assertTrue(ring.read(fd, in.asSlice(0, 4096), 64 * 1024, 77));
            ring.submitAndWait(17);
            while (results.size() < 17) {
                ring.reap(results::put);
                if (results.size() < 17) ring.submitAndWait(1);
            }
            assertEquals(0, results.get(77L), "a read at the end of the file moves nothing");
            for (int b = 1; b < 16; b++) assertEquals(4096, results.get((long) b));
            assertEquals(-1, in.asSlice(4096).mismatch(out.asSlice(4096)), "the data read back is the data written");
            byte[] onDisk = Files.readAllBytes(file);
            assertArrayEquals(out.toArray(JAVA_BYTE), java.util.Arrays.copyOf(onDisk, 16 * 4096));
            // A bad descriptor is the operation's own negated errno, not a failure of the ring.
            results.clear();
            assertTrue(ring.read(1 << 20, in.asSlice(0, 512), 0, 5));
            ring.submitAndWait(1);
            ring.reap(results::put);
            assertEquals(-9, results.get(5L), "EBADF");
        } finally {
            Libc.close(fd);
        }
    }

    @Test
    void aFullSubmissionRingRefusesMoreEntries(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("data");
        Files.write(file, new byte[4096]);
        IoUring ring;
        try {
            ring = IoUring.open(4);
        } catch (ErrnoException e) {
            org.junit.jupiter.api.Assumptions.abort("io_uring unavailable here: " + e.getMessage());
            return;
        }
        int fd = Libc.open(file.toString(), Libc.O_RDONLY | Libc.O_CLOEXEC);
        try (ring; Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(512);
            for (int i = 0; i < ring.capacity(); i++) assertTrue(ring.read(fd, buf, 0, i));
            assertFalse(ring.read(fd, buf, 0, 99), "no room until the kernel takes the entries");
            assertThrows(IllegalArgumentException.class, () -> ring.read(fd, MemorySegment.ofArray(new byte[8]), 0, 1),
                    "heap memory has no stable address for the kernel");
            ring.submitAndWait(ring.capacity());
            int[] n = {0};
            ring.reap((u, r) -> n[0]++);
            assertEquals(ring.capacity(), n[0]);
            assertTrue(ring.read(fd, buf, 0, 99), "room again");
        } finally {
            Libc.close(fd);
        }
    }
}
