package dev.flint.machine;

import dev.flint.sys.FileHoles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Dirty page tracking in {@link GuestMemory} and the snapshot memory files of {@link MemoryFile}: device
 * writes mark their pages; a Diff file is RAM-sized, sparse, and holds exactly the pages written since the
 * last snapshot (a page written back to zeros included); rebasing it onto the previous full file gives the
 * current RAM byte for byte; a Full snapshot written over an existing file (even the one RAM is mapped
 * from) leaves exactly RAM in it.
 */
class MemoryFileTest {
    private static final int PAGE = 4096;
    private static final long RAM = 1 << 20;

    private static List<Integer> dirty(DirtyPages log) {
        List<Integer> pages = new ArrayList<>();
        for (int p = 0; p < log.pages(); p++) if (log.isDirty(p)) pages.add(p);
        return pages;
    }

    /** The file's data extents as [start, end) page numbers, found with SEEK_DATA / SEEK_HOLE. */
    static List<List<Long>> dataExtents(Path file) throws Exception {
        List<List<Long>> extents = new ArrayList<>();
        long size = Files.size(file);
        try (FileHoles holes = FileHoles.openReadOnly(file.toString())) {
            for (long pos = 0; pos < size; ) {
                long data = holes.nextData(pos);
                if (data < 0) break;
                long end = holes.nextHole(data);
                extents.add(List.of(data / PAGE, (end + PAGE - 1) / PAGE));
                pos = end;
            }
        }
        return extents;
    }

    private static byte[] bytes(GuestMemory memory) {
        return memory.segment().toArray(ValueLayout.JAVA_BYTE);
    }

    private static byte[] page(int seed) {
        byte[] b = new byte[PAGE];
        for (int i = 0; i < PAGE; i++) b[i] = (byte) (seed * 31 + i * 7 + 1);
        return b;
    }

    @Test
    void deviceWritesMarkTheirPages() {
        try (GuestMemory memory = GuestMemory.allocate(RAM)) {
            memory.writeInt(0x1000, 1);
            assertEquals(null, memory.dirtyPages(), "tracking is off until asked for");
            DirtyPages log = memory.trackDirtyPages();
            memory.readLong(0x2000);
            assertEquals(List.of(), dirty(log));
            memory.writeInt(0x3000, 7);
            memory.write(0x5FFE, new byte[] {1, 2, 3, 4});          // straddles pages 5 and 6
            memory.slice(0x9000, 2 * PAGE).fill((byte) 1);             // a device's DMA view: pages 9 and 10
            memory.discard(0xC000, PAGE);                              // a balloon's page now reads zeros
            assertEquals(List.of(3, 5, 6, 9, 10, 12), dirty(log));
            assertEquals(6, log.count());
        }
    }

    @Test
    void aDiffHoldsExactlyThePagesWrittenSinceTheFullSnapshotAndRebasesOntoIt(@TempDir Path dir) throws Exception {
        try (GuestMemory memory = GuestMemory.allocate(RAM)) {
            DirtyPages log = memory.trackDirtyPages();
            for (int p : new int[] {1, 2, 7, 100, 200}) memory.write((long) p * PAGE, page(p));
            Path base = dir.resolve("base.mem");
            memory.writeTo(base);
            log.clear();
            assertEquals(List.of(List.of(1L, 3L), List.of(7L, 8L), List.of(100L, 101L), List.of(200L, 201L)), dataExtents(base),
                    "a Full file leaves zero pages as holes");
            byte[] atBase = bytes(memory);

            memory.write(2L * PAGE + 100, "after the base".getBytes());  // changed
            memory.write(7L * PAGE, new byte[PAGE]);                      // written back to zeros: still in the diff
            memory.write(150L * PAGE, page(150));                          // new
            memory.write(151L * PAGE, page(151));
            Path diff = dir.resolve("diff.mem");
            assertEquals(4, memory.writeDirtyTo(diff));
            assertEquals(RAM, Files.size(diff), "a Diff file is as long as RAM");
            assertEquals(List.of(List.of(2L, 3L), List.of(7L, 8L), List.of(150L, 152L)), dataExtents(diff),
                    "only the pages written since the base hold data");

            byte[] now = bytes(memory);
            assertTrue(!Arrays.equals(atBase, now));
            MemoryFile.Rebased r = MemoryFile.rebase(base, diff);
            assertEquals(4L * PAGE, r.bytes());
            assertEquals(3, r.extents());
            assertArrayEquals(now, Files.readAllBytes(base), "base + diff is RAM as the diff found it");
        }
    }

    @Test
    void aFullSnapshotOverAnExistingFileLeavesExactlyRam(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("old.mem");
        byte[] junk = new byte[(int) RAM];
        Arrays.fill(junk, (byte) 0x5A);
        Files.write(file, junk);
        try (GuestMemory memory = GuestMemory.allocate(RAM)) {
            memory.write(3L * PAGE, page(3));
            memory.writeTo(file);
            assertArrayEquals(bytes(memory), Files.readAllBytes(file), "old data under zero pages is gone");
            assertEquals(List.of(List.of(3L, 4L)), dataExtents(file), "and its blocks are freed");
        }
        Files.write(file, new byte[5]);
        try (GuestMemory memory = GuestMemory.allocate(RAM)) {
            memory.write(9L * PAGE, page(9));
            memory.writeTo(file);
            assertEquals(RAM, Files.size(file), "a file of another size is replaced");
            assertArrayEquals(bytes(memory), Files.readAllBytes(file));
        }
    }

    /** As in Firecracker: a snapshot may go to the very file RAM is mapped from; truncating it would zero the guest. */
    @Test
    void snapshotsIntoTheFileRamIsMappedFrom(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("vm.mem");
        try (GuestMemory first = GuestMemory.allocate(RAM)) {
            first.write(4L * PAGE, page(4));
            first.write(5L * PAGE, page(5));
            first.writeTo(file);
        }
        try (GuestMemory loaded = GuestMemory.mapSnapshot(file, RAM)) {
            DirtyPages log = loaded.trackDirtyPages();
            loaded.write(5L * PAGE + 8, new byte[] {9, 9, 9});
            byte[] expected = bytes(loaded);
            assertEquals(1, loaded.writeDirtyTo(file), "a Diff onto its own base is merged as it is written");
            assertArrayEquals(expected, Files.readAllBytes(file));
            log.clear();
            loaded.writeTo(file);
            assertArrayEquals(expected, bytes(loaded), "the guest's untouched pages still read their data");
            assertArrayEquals(expected, Files.readAllBytes(file));
        }
    }

    @Test
    void rebaseRefusesFilesThatDoNotBelongTogether(@TempDir Path dir) throws Exception {
        Path base = Files.write(dir.resolve("base"), new byte[2 * PAGE]);
        Path other = Files.write(dir.resolve("other"), new byte[3 * PAGE]);
        var e = assertThrows(GuestMemoryFileException.class, () -> MemoryFile.rebase(base, other));
        assertTrue(e.getMessage().contains("not memory files of the same guest"), e.getMessage());
        assertThrows(GuestMemoryFileException.class, () -> MemoryFile.rebase(base, base));
        assertThrows(GuestMemoryFileException.class, () -> MemoryFile.rebase(base, dir.resolve("missing")));
        assertThrows(GuestMemoryFileException.class, () -> MemoryFile.rebase(base, dir));
        assertArrayEquals(new byte[2 * PAGE], Files.readAllBytes(base));
    }

    @Test
    void theDirtyLogCoversAllOfRam() {
        try (GuestMemory memory = GuestMemory.allocate(RAM)) {
            DirtyPages log = memory.trackDirtyPages();
            assertEquals(RAM / PAGE, log.pages());
            MemorySegment last = memory.slice(RAM - 1, 1);
            last.set(ValueLayout.JAVA_BYTE, 0, (byte) 1);
            assertEquals(List.of((int) (RAM / PAGE) - 1), dirty(log));
        }
    }
}
