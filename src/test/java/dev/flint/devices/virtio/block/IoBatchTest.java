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

    /**
     * Reads whose data left the page cache (dropped with posix_fadvise after an fsync) wholly or in part: what
     * the cache has comes at once, the rest through io_uring from the right offsets, and every byte is right.
     * Where the file system keeps the pages anyway (tmpfs) everything comes from the cache: still right.
     */
    @Test
    void readsPartlyOutOfTheCacheComeBackWhole(@TempDir Path dir) throws Throwable {
        Path file = dir.resolve("cold");
        byte[] content = writeClean(file, 4 << 20, 5);
        for (IoBatch.Policy policy : IoBatch.Policy.values()) {
            int fd = dev.flint.sys.Libc.open(file.toString(), dev.flint.sys.Libc.O_RDONLY);
            try {
                for (int mib = 0; mib < 4; mib++) dropFromCache(fd, mib * (1L << 20) + (mib % 2) * (512L << 10), 512L << 10);
            } finally {
                dev.flint.sys.Libc.close(fd);
            }
            try (DiskImage image = DiskImage.open(new DriveConfig(file, true));
                 IoBatch batch = new IoBatch(image, file.toString(), false, policy); Arena arena = Arena.ofConfined()) {
                MemorySegment ram = arena.allocate(content.length + 4096);
                // Four 1 MiB reads, each half cached, placed at an odd offset into "RAM" and in reverse order.
                for (int mib = 0; mib < 4; mib++) batch.add(mib, ram, 4096 + (3 - mib) * (1L << 20), 1 << 20, mib * (1L << 20), false);
                List<Done> outcomes = new ArrayList<>();
                batch.submit((tag, ok) -> outcomes.add(new Done(tag, ok)));
                assertEquals(4, outcomes.size(), policy.toString());
                assertTrue(outcomes.stream().allMatch(Done::ok), policy + ": " + outcomes);
                for (int mib = 0; mib < 4; mib++) {
                    byte[] got = ram.asSlice(4096 + (3 - mib) * (1L << 20), 1 << 20).toArray(JAVA_BYTE);
                    assertArrayEquals(java.util.Arrays.copyOfRange(content, mib << 20, (mib + 1) << 20), got, policy + ", MiB " + mib);
                }
                if (policy == IoBatch.Policy.URING && batch.usesIoUring()) assertEquals(4, batch.ringOperations());
                if (policy == IoBatch.Policy.SYNC) assertEquals(0, batch.ringOperations());
            }
        }
    }

    /**
     * The default policy sends a batch's reads to io_uring with RWF_NOWAIT. On a file the page cache holds they
     * all come from the cache; after the file's pages were dropped each NOWAIT entry comes back -EAGAIN and is
     * queued again without the flag, and every read still returns its own bytes, whatever the order of the batch.
     */
    @Test
    void nowaitReadsTheCacheCannotServeAreQueuedAgain(@TempDir Path dir) throws Throwable {
        Path file = dir.resolve("nowait");
        byte[] content = writeClean(file, 1 << 20, 13);
        int[] pages = {200, 3, 77, 150, 9, 255, 41, 128, 64, 190, 17, 230, 99, 5, 111, 170}; // 16 distinct 4 KiB pages
        for (boolean dropped : new boolean[] {false, true}) {
            if (dropped) {
                int fd = dev.flint.sys.Libc.open(file.toString(), dev.flint.sys.Libc.O_RDONLY);
                try {
                    dropFromCache(fd, 0, content.length);
                } finally {
                    dev.flint.sys.Libc.close(fd);
                }
            }
            try (DiskImage image = DiskImage.open(new DriveConfig(file, true));
                 IoBatch batch = new IoBatch(image, file.toString(), false, IoBatch.Policy.CACHE_FIRST); Arena arena = Arena.ofConfined()) {
                if (!batch.usesIoUring()) return; // no io_uring here: the other tests cover the blocking calls
                MemorySegment ram = arena.allocate(pages.length * 4096L);
                for (int k = 0; k < pages.length; k++) batch.add(k, ram, 4096L * k, 4096, 4096L * pages[k], false);
                List<Done> outcomes = new ArrayList<>();
                batch.submit((tag, ok) -> outcomes.add(new Done(tag, ok)));
                assertEquals(pages.length, outcomes.size(), "dropped " + dropped);
                assertTrue(outcomes.stream().allMatch(Done::ok), outcomes.toString());
                for (int k = 0; k < pages.length; k++) {
                    assertArrayEquals(java.util.Arrays.copyOfRange(content, pages[k] * 4096, (pages[k] + 1) * 4096),
                            ram.asSlice(4096L * k, 4096).toArray(JAVA_BYTE), "dropped " + dropped + ", page " + pages[k]);
                }
                // Each read is either served by the cache or missed once and then read through the ring.
                assertEquals(pages.length, batch.inlineOperations() + batch.cacheMisses());
                assertEquals(batch.cacheMisses(), batch.ringOperations());
                if (!dropped) {
                    assertEquals(pages.length, batch.inlineOperations(), "a cached file is read from the cache");
                } else if (!"tmpfs".equals(Files.getFileStore(file).type())) { // tmpfs keeps its pages
                    assertTrue(batch.cacheMisses() > 0, "dropped pages come back -EAGAIN and are queued again");
                }
            }
        }
    }

    private static final java.lang.invoke.MethodHandle FADVISE = java.lang.foreign.Linker.nativeLinker().downcallHandle(
            java.lang.foreign.Linker.nativeLinker().defaultLookup().find("posix_fadvise").orElseThrow(),
            java.lang.foreign.FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_INT, java.lang.foreign.ValueLayout.JAVA_INT,
                    java.lang.foreign.ValueLayout.JAVA_LONG, java.lang.foreign.ValueLayout.JAVA_LONG, java.lang.foreign.ValueLayout.JAVA_INT));

    /** POSIX_FADV_DONTNEED: the kernel drops the range's clean pages from the page cache. */
    private static void dropFromCache(int fd, long offset, long length) throws Throwable {
        int r = (int) FADVISE.invokeExact(fd, offset, length, 4);
        assertEquals(0, r, "posix_fadvise");
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

    /** Writes {@code size} seeded random bytes (the same every run) to {@code file} and syncs them: clean pages the kernel may drop. */
    private static byte[] writeClean(Path file, int size, long seed) throws java.io.IOException {
        byte[] content = new byte[size];
        new java.util.Random(seed).nextBytes(content);
        Files.write(file, content);
        try (var ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        return content;
    }
}
