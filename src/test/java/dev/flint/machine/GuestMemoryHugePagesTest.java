package dev.flint.machine;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/**
 * Guest RAM on transparent huge pages ({@link GuestMemory#allocate(long, boolean)}): the advice takes effect,
 * and what works in 4 KiB pages still does on a 2 MiB page: {@link GuestMemory#discard} of single pages (what
 * a balloon's inflate does) lowers the resident size by what was given back and leaves the neighbours' bytes,
 * the dirty log stays exact to the page, and a Full snapshot of such RAM restores byte for byte onto a mapping
 * whose writes cost 4 KiB each. Figures come from /proc/self/smaps for RAM's mapping. (The host gets discarded
 * pages of a huge page back only when the kernel splits it, so the VMM keeps a ballooned machine off huge
 * pages: {@code VmmTest}.)
 */
class GuestMemoryHugePagesTest {
    private static final int PAGE = 4096;
    private static final long RAM = 8L << 20;

    private static String thpMode() throws Exception { return Smaps.thpMode(); }

    private static Map<String, Long> smaps(long address) throws Exception { return Smaps.of(address); }

    private static byte pattern(long offset) { return (byte) (1 + (offset / PAGE) % 251); }

    /** Writes every page of RAM (one byte per page faults it in whole). */
    private static void touchAll(GuestMemory mem) {
        for (long off = 0; off < RAM; off += PAGE) mem.writeByte(off, pattern(off));
    }

    @Test
    void ramAdvisedOntoHugePagesIsBackedByThemAndNotWithoutTheAdvice() throws Exception {
        String mode = thpMode();
        assumeFalse(mode.equals("never"), "the host's THP mode is never");
        try (GuestMemory mem = GuestMemory.allocate(RAM, true)) {
            touchAll(mem);
            long huge = smaps(mem.segment().address()).get("AnonHugePages");
            assertTrue(huge >= 2048, "huge-page-advised RAM of 8 MiB, all touched, holds " + huge + " kB in huge pages");
        }
        if (!mode.equals("madvise")) return; // under "always" RAM gets them without the advice too
        try (GuestMemory mem = GuestMemory.allocate(RAM, false)) {
            touchAll(mem);
            assertEquals(0L, smaps(mem.segment().address()).get("AnonHugePages"), "no advice, no huge pages");
        }
    }

    @Test
    void discardingSinglePagesOfHugePagesGivesThemBackAndKeepsTheRestAndTheDirtyLogExact() throws Exception {
        assumeFalse(thpMode().equals("never"), "the host's THP mode is never");
        try (GuestMemory mem = GuestMemory.allocate(RAM, true)) {
            touchAll(mem);
            for (long off = 0; off < RAM; off += PAGE) mem.writeByte(off + PAGE - 1, pattern(off));
            Map<String, Long> before = smaps(mem.segment().address());
            assertTrue(before.get("AnonHugePages") >= 2048, "RAM is on huge pages to begin with: " + before);
            DirtyPages log = mem.trackDirtyPages();
            // Every other page, one by one, as the balloon gives back what a guest inflates it with.
            for (long off = 0; off < RAM; off += 2 * PAGE) mem.discard(off, PAGE);
            Map<String, Long> after = smaps(mem.segment().address());
            long given = RAM / 2 / 1024;
            assertTrue(before.get("Rss") - after.get("Rss") >= given,
                    "the resident size falls by the " + given + " kB discarded: " + before.get("Rss") + " -> " + after.get("Rss"));
            for (long off = 0; off < RAM; off += PAGE) {
                byte want = (off / PAGE) % 2 == 0 ? 0 : pattern(off);
                assertEquals(want, mem.readByte(off), "first byte of page " + off / PAGE);
                assertEquals(want, mem.readByte(off + PAGE - 1), "last byte of page " + off / PAGE);
            }
            assertEquals(RAM / PAGE / 2, log.count(), "the dirty log holds the discarded pages and no neighbour");
            mem.writeByte(3 * PAGE + 17, (byte) 7);
            assertEquals(RAM / PAGE / 2 + 1, log.count(), "one byte written in a kept page marks that page alone");
            assertTrue(log.isDirty(3) && !log.isDirty(1) && !log.isDirty(5));
        }
    }

    @Test
    void aFullSnapshotOfHugePageRamRestoresExactlyAndARestoredWriteCostsOnePage(@TempDir Path dir) throws Exception {
        assumeFalse(thpMode().equals("never"), "the host's THP mode is never");
        Path file = dir.resolve("mem");
        try (GuestMemory mem = GuestMemory.allocate(RAM, true)) {
            touchAll(mem);
            mem.discard(5L * PAGE, PAGE);
            mem.writeTo(file);
        }
        try (GuestMemory restored = GuestMemory.mapSnapshot(file, RAM)) {
            // A restore is a copy-on-write file mapping, never advised: what the restored guest writes costs
            // private memory a 4 KiB page at a time (what it only reads is the page cache's, shared).
            assertEquals(pattern(3L << 20), restored.readByte(3L << 20));
            assertEquals(0L, smaps(restored.segment().address()).get("Anonymous"), "reads copy nothing");
            restored.writeByte((3L << 20) + 1, pattern(3L << 20));
            assertEquals(4L, smaps(restored.segment().address()).get("Anonymous"), "one write copies one 4 KiB page");
            for (long off = 0; off < RAM; off += PAGE) {
                byte want = off == 5L * PAGE ? 0 : pattern(off);
                assertEquals(want, restored.segment().get(ValueLayout.JAVA_BYTE, off), "page " + off / PAGE);
            }
        }
    }
}
