package dev.flint.sys;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.*;

/**
 * PositionalIo's two call paths: without flags the plain {@code pread}/{@code pwrite} (one buffer, no iovec), with
 * flags the vectored {@code preadv2}/{@code pwritev2}. Both must move the same bytes at the same file positions, stop
 * short at the end of the file, report errors as -errno, and refuse a range outside the segment before any call.
 */
class PositionalIoTest {
    private static final int EBADF = 9;

    @Test
    void plainAndFlaggedCallsMoveTheSameBytesAtTheSamePositions(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("data");
        Files.write(file, new byte[64 * 1024]);
        int fd = Libc.open(file.toString(), Libc.O_RDWR | Libc.O_CLOEXEC);
        try (PositionalIo io = new PositionalIo(); Arena arena = Arena.ofConfined()) {
            MemorySegment ram = arena.allocate(8 * 4096, 4096);
            for (int i = 0; i < ram.byteSize(); i++) ram.set(JAVA_BYTE, i, (byte) (i * 13 + i / 4096));
            // Plain pwrite of page 3 of the segment to file offset 12 KiB, and an unaligned piece at an odd position.
            assertEquals(4096, io.write(fd, ram, 3 * 4096, 4096, 12 * 1024, 0));
            assertEquals(1000, io.write(fd, ram, 5 * 4096 + 7, 1000, 40_001, 0));
            byte[] disk = Files.readAllBytes(file);
            for (int i = 0; i < 4096; i++) assertEquals(ram.get(JAVA_BYTE, 3 * 4096 + i), disk[12 * 1024 + i], "pwrite byte " + i);
            for (int i = 0; i < 1000; i++) assertEquals(ram.get(JAVA_BYTE, 5 * 4096 + 7 + i), disk[40_001 + i], "unaligned byte " + i);
            assertEquals(0, disk[12 * 1024 - 1]);
            assertEquals(0, disk[16 * 1024]);

            // Read both back, once plain and once through preadv2 (RWF_HIPRI is a hint a buffered read ignores).
            MemorySegment back = arena.allocate(2 * 4096, 4096);
            assertEquals(4096, io.read(fd, back, 0, 4096, 12 * 1024, 0));
            assertEquals(1000, io.read(fd, back, 4096 + 3, 1000, 40_001, RWF_HIPRI));
            for (int i = 0; i < 4096; i++) assertEquals(ram.get(JAVA_BYTE, 3 * 4096 + i), back.get(JAVA_BYTE, i), "pread byte " + i);
            for (int i = 0; i < 1000; i++) assertEquals(ram.get(JAVA_BYTE, 5 * 4096 + 7 + i), back.get(JAVA_BYTE, 4096 + 3 + i), "preadv2 byte " + i);

            // At the end of the file a plain read is short, past it 0; a write past it extends the file.
            assertEquals(100, io.read(fd, back, 0, 4096, 64 * 1024 - 100, 0));
            assertEquals(0, io.read(fd, back, 0, 4096, 64 * 1024, 0));
            assertEquals(4096, io.write(fd, ram, 0, 4096, 64 * 1024, 0));
            assertEquals(68 * 1024, Files.size(file));
        } finally {
            Libc.close(fd);
        }
    }

    @Test
    void errorsComeBackAsNegatedErrnoAndRangesOutsideTheSegmentNeverReachTheKernel(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("data");
        Files.write(file, new byte[8192]);
        int readOnly = Libc.open(file.toString(), Libc.O_RDONLY | Libc.O_CLOEXEC);
        try (PositionalIo io = new PositionalIo(); Arena arena = Arena.ofConfined()) {
            MemorySegment ram = arena.allocate(4096, 4096);
            assertEquals(-EBADF, io.write(readOnly, ram, 0, 4096, 0, 0), "pwrite on a read-only descriptor");
            assertEquals(-EBADF, io.read(-1, ram, 0, 4096, 0, 0), "pread on no descriptor");
            assertEquals(-EBADF, io.read(-1, ram, 0, 4096, 0, RWF_HIPRI), "preadv2 on no descriptor");
            assertThrows(IndexOutOfBoundsException.class, () -> io.read(readOnly, ram, 1, 4096, 0, 0));
            assertThrows(IndexOutOfBoundsException.class, () -> io.write(readOnly, ram, 4096, 1, 0, 0));
            assertThrows(IllegalArgumentException.class, () -> io.read(readOnly, ram, 0, 4096, -1, 0));
            assertThrows(IllegalArgumentException.class, () -> io.read(readOnly, MemorySegment.ofArray(new byte[16]), 0, 16, 0, 0));
        } finally {
            Libc.close(readOnly);
        }
    }

    @Test
    void theJailersFiltersLeaveTheFallbacksCallsAllowed() {
        // Under the jailer's and `flint vmm`'s seccomp filters io_uring is denied and every block operation is one of
        // these calls: denying one would fail every guest disk request with EPERM.
        for (String call : java.util.List.of("pread64", "pwrite64", "preadv2", "pwritev2")) {
            assertFalse(SeccompFilter.JAIL_DENIED.contains(call), call + " denied in the jail");
            assertFalse(SeccompFilter.VMM_DENIED.contains(call), call + " denied to flint vmm");
        }
        assertTrue(SeccompFilter.JAIL_DENIED.contains("io_uring_setup"), "the fallback exists because io_uring is denied");
    }

    /** {@code RWF_HIPRI}: a polling hint that buffered I/O ignores; here it only makes the call the vectored one. */
    private static final int RWF_HIPRI = 0x1;
}
