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

    /**
     * Large reads of a batch go half to io_uring's kernel workers (copied beside the I/O thread) and half inline
     * from the page cache; every read returns its own bytes wherever it ran, a worker's read that runs past the
     * end of the file fails as an inline one does, and with the workers turned off (0) or under the blocking
     * fallback none is handed over.
     */
    @Test
    void largeReadsAreSplitBetweenKernelWorkersAndTheIoThread(@TempDir Path dir) throws Throwable {
        Path file = dir.resolve("parallel");
        int chunk = 256 << 10;
        byte[] content = writeClean(file, 16 * chunk, 21);
        int[] order = {9, 2, 14, 5, 0, 11, 7, 3}; // 8 distinct 256 KiB pieces, out of order
        for (long parallelMin : new long[] {64 << 10, 0}) {
            for (IoBatch.Policy policy : new IoBatch.Policy[] {IoBatch.Policy.CACHE_FIRST, IoBatch.Policy.SYNC}) {
                try (DiskImage image = DiskImage.open(new DriveConfig(file, true));
                     IoBatch batch = new IoBatch(image, file.toString(), false, policy, parallelMin); Arena arena = Arena.ofConfined()) {
                    String what = policy + ", parallel-min " + parallelMin;
                    MemorySegment ram = arena.allocate((order.length + 2L) * chunk, 4096);
                    batch.add(99, ram, (long) order.length * chunk, chunk, content.length - chunk / 2, false); // past the end
                    for (int k = 0; k < order.length; k++) batch.add(k, ram, (long) k * chunk, chunk, (long) order[k] * chunk, false);
                    // Small: never a worker's. Its own buffer: reads in flight together complete in any order, so
                    // one landing over another's buffer would leave either's bytes.
                    batch.add(50, ram, (order.length + 1L) * chunk, 4096, 4096, false);
                    List<Done> outcomes = new ArrayList<>();
                    batch.submit((tag, ok) -> outcomes.add(new Done(tag, ok)));
                    assertEquals(order.length + 2, outcomes.size(), what);
                    assertTrue(outcomes.contains(new Done(99, false)), what + ": a read past the end fails: " + outcomes);
                    assertEquals(order.length + 1, outcomes.stream().filter(Done::ok).count(), what + ": " + outcomes);
                    for (int k = 0; k < order.length; k++) {
                        byte[] want = java.util.Arrays.copyOfRange(content, order[k] * chunk, (order[k] + 1) * chunk);
                        assertArrayEquals(want, ram.asSlice((long) k * chunk, chunk).toArray(JAVA_BYTE), what + ", piece " + k);
                    }
                    assertArrayEquals(java.util.Arrays.copyOfRange(content, 4096, 8192),
                            ram.asSlice((order.length + 1L) * chunk, 4096).toArray(JAVA_BYTE), what + ", the small read");
                    long expected = parallelMin > 0 && batch.usesIoUring() ? (order.length + 1) / 2 : 0;
                    assertEquals(expected, batch.workerOperations(), what + ": half the large reads go to kernel workers");
                }
            }
        }
    }

    /**
     * A request scattered over many guest buffers, as a Linux guest's page-cache pages arrive (64 pages of 4 KiB,
     * in reverse order in RAM, two of them neighbours), is one operation: one ring entry or one call for all of
     * them, under every policy. It writes and reads back the right bytes at the right places, a read whose middle
     * left the page cache comes back whole (the cached front at once, the rest from where it stopped), and one
     * that runs past the end of the file fails.
     */
    @Test
    void aRequestScatteredOverManyBuffersIsOneOperation(@TempDir Path dir) throws Throwable {
        int pages = 64, page = 4096;
        for (IoBatch.Policy policy : IoBatch.Policy.values()) {
            Path file = dir.resolve("scattered-" + policy);
            byte[] content = writeClean(file, 2 * pages * page, 31);
            try (DiskImage image = DiskImage.open(new DriveConfig(file, false));
                 IoBatch batch = new IoBatch(image, file.toString(), true, policy); Arena arena = Arena.ofConfined()) {
                MemorySegment ram = arena.allocate(4L * pages * page, page);
                // Page p of the request sits at RAM page 2 * (pages - 1 - p), except page 1, right after page 0's.
                java.util.function.IntToLongFunction at = p -> p == 1 ? 2L * (pages - 1) * page + page : 2L * (pages - 1 - p) * page;
                for (int p = 0; p < pages; p++) for (int b = 0; b < page; b++) ram.set(JAVA_BYTE, at.applyAsLong(p) + b, (byte) (p * 3 + b));
                for (int p = 0; p < pages; p++) batch.add(7, ram, at.applyAsLong(p), page, (long) pages * page + (long) p * page, true);
                List<Done> outcomes = new ArrayList<>();
                batch.submit((tag, ok) -> outcomes.add(new Done(tag, ok)));
                assertEquals(List.of(new Done(7, true)), outcomes, policy + ": one operation, one report");
                byte[] onDisk = Files.readAllBytes(file);
                for (int p = 0; p < pages; p++) {
                    assertArrayEquals(ram.asSlice(at.applyAsLong(p), page).toArray(JAVA_BYTE),
                            java.util.Arrays.copyOfRange(onDisk, (pages + p) * page, (pages + p + 1) * page), policy + ": page " + p + " written in place");
                }
                System.arraycopy(onDisk, pages * page, content, pages * page, pages * page);
                ram.fill((byte) 0);
                try (var ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.WRITE)) {
                    ch.force(true); // clean pages, which the kernel may drop
                }
                int fd = dev.flint.sys.Libc.open(file.toString(), dev.flint.sys.Libc.O_RDONLY);
                try {
                    dropFromCache(fd, 20L * page, 10L * page); // the middle of the first half
                } finally {
                    dev.flint.sys.Libc.close(fd);
                }
                long opsBefore = batch.operations(), missesBefore = batch.cacheMisses();
                for (int p = 0; p < pages; p++) batch.add(8, ram, at.applyAsLong(p), page, (long) p * page, false);
                for (int p = 0; p < 4; p++) batch.add(9, ram, 2L * pages * page + 2L * p * page, page, 2L * pages * page - 2L * page + (long) p * page, false);
                outcomes.clear();
                batch.submit((tag, ok) -> outcomes.add(new Done(tag, ok)));
                assertEquals(2, outcomes.size(), policy + ": " + outcomes);
                assertTrue(outcomes.contains(new Done(8, true)) && outcomes.contains(new Done(9, false)), policy + ": " + outcomes);
                for (int p = 0; p < pages; p++) {
                    assertArrayEquals(java.util.Arrays.copyOfRange(content, p * page, (p + 1) * page),
                            ram.asSlice(at.applyAsLong(p), page).toArray(JAVA_BYTE), policy + ": page " + p + " read into its own buffer");
                }
                assertEquals(2, batch.operations() - opsBefore, policy + ": two requests, two operations, not one per buffer");
                if (policy == IoBatch.Policy.CACHE_FIRST && batch.usesIoUring() && !"tmpfs".equals(Files.getFileStore(file).type())) {
                    assertTrue(batch.cacheMisses() > missesBefore, "the dropped middle stopped the read from the cache part way");
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
