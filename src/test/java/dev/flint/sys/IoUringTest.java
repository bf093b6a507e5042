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
import static java.lang.foreign.ValueLayout.JAVA_LONG;
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
        IoUring ring = openOrSkip(32);
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
        IoUring ring = openOrSkip(4);
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

    /**
     * One vectored entry moves a request scattered over several buffers: a WRITEV of three pieces (out of order in
     * memory, one iovec each) lands them one after another in the file, a READV puts them back into three other
     * buffers, and a READV that reaches past the end of the file comes back short with what there was.
     * PositionalIo's preadv2 over the same iovecs reads the same bytes.
     */
    @Test
    void vectoredEntriesMoveScatteredBuffersAsOneRequest(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("data");
        Files.write(file, new byte[32 * 1024]);
        IoUring ring = openOrSkip(8);
        int fd = Libc.open(file.toString(), Libc.O_RDWR | Libc.O_CLOEXEC);
        try (ring; Arena arena = Arena.ofConfined(); PositionalIo io = new PositionalIo()) {
            MemorySegment out = arena.allocate(3 * 4096, 4096), in = arena.allocate(3 * 4096, 4096);
            for (int i = 0; i < out.byteSize(); i++) out.set(JAVA_BYTE, i, (byte) (i * 5 + i / 4096 + 1));
            MemorySegment iov = arena.allocate(6 * Libc.IOVEC_BYTES, 8);
            long[][] pieces = {{2 * 4096, 4096}, {0, 1000}, {4096, 3096}}; // (offset, length) into out, file order
            for (int k = 0; k < 3; k++) {
                iov.set(JAVA_LONG, 16L * k, out.address() + pieces[k][0]);
                iov.set(JAVA_LONG, 16L * k + 8, pieces[k][1]);
                iov.set(JAVA_LONG, 16L * (3 + k), in.address() + pieces[k][0]);
                iov.set(JAVA_LONG, 16L * (3 + k) + 8, pieces[k][1]);
            }
            Map<Long, Integer> results = new HashMap<>();
            assertTrue(ring.writev(fd, iov, 0, 3, 8192, 0, 1));
            ring.submitAndWait(1);
            ring.reap(results::put);
            assertEquals(8192, results.get(1L), "one entry wrote all three pieces");
            byte[] disk = Files.readAllBytes(file);
            long at = 8192;
            for (long[] p : pieces) {
                for (int i = 0; i < p[1]; i++) assertEquals(out.get(JAVA_BYTE, p[0] + i), disk[(int) at + i], "file byte " + (at + i));
                at += p[1];
            }
            assertTrue(ring.readv(fd, iov, 3, 3, 8192, 0, 0, 2));
            ring.submitAndWait(1);
            ring.reap(results::put);
            assertEquals(8192, results.get(2L));
            for (long[] p : pieces) assertEquals(-1, in.asSlice(p[0], p[1]).mismatch(out.asSlice(p[0], p[1])), "every piece back in its own buffer");
            assertTrue(ring.readv(fd, iov, 3, 3, 32 * 1024 - 5000, 0, 0, 3));
            ring.submitAndWait(1);
            ring.reap(results::put);
            assertEquals(5000, results.get(3L), "short at the end of the file");
            in.fill((byte) 0);
            assertEquals(8192, io.readv(fd, iov, 3, 3, 8192, 0));
            for (long[] p : pieces) assertEquals(-1, in.asSlice(p[0], p[1]).mismatch(out.asSlice(p[0], p[1])), "preadv2 over the same iovecs");
            assertThrows(IndexOutOfBoundsException.class, () -> ring.readv(fd, iov, 4, 3, 0, 0, 0, 4), "iovecs past the array");
        } finally {
            Libc.close(fd);
        }
    }

    /** A ring of {@code entries}, or the test is skipped where the host has no io_uring (old kernel, sysctl, seccomp). */
    private static IoUring openOrSkip(int entries) {
        try {
            return IoUring.open(entries);
        } catch (ErrnoException e) {
            return org.junit.jupiter.api.Assumptions.abort("io_uring unavailable here: " + e.getMessage());
        }
    }
}
