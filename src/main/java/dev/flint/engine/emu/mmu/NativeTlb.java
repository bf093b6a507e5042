package dev.flint.engine.emu.mmu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * An off-heap copy of one vCPU's data TLB (its {@link Mmu}'s fast rows) that native code can read: for every
 * address space, privilege and access (read, write) a row of {@link Mmu#TLB_ENTRIES} entries of
 * {@link #ENTRY_BYTES} bytes, {page number, addend}, and a header naming the rows in use now. The {@link Mmu}
 * writes every change of its fast rows here too (fill, drop, flush, CR3/PCID switch, privilege change), so
 * the copy never holds an entry the TLB of record does not.
 *
 * <p>Layout (all 8-byte little-endian words, offsets from {@link #address()}):
 * <ul>
 *   <li>{@link #READ_ROW}, {@link #WRITE_ROW}: the address of the current address space's row for reads and
 *       writes at the current privilege;</li>
 *   <li>{@link #CODE_BIAS}: {@code code map address - (RAM base >>> 12)}, so that the code mark of the page a
 *       host address {@code h} lies in is the byte at {@code (h >>> 12) + bias} (see {@link CodePages});</li>
 *   <li>{@link #RAM_BASE}: the RAM segment's address;</li>
 *   <li>an entry at {@code row + ((lin >>> 12) & } {@link #INDEX_MASK}{@code ) * 16}: at {@link #PAGE} the
 *       linear page number it translates ({@code lin >>> 12}), -1 when it translates nothing natively; at
 *       {@link #ADDEND} the value to add to a linear address in that page to get its host address.</li>
 * </ul>
 *
 * <p>What never hits here, so that native code exits to Java for it: pages that are not RAM (MMIO, the local
 * APIC: the fast rows hold them as -1 already), pages the TLB has no entry for at this privilege (the rows are
 * per privilege), a write through a read-only or clean mapping (a write entry exists only after a write walk
 * set the dirty bit), and, when the machine logs dirty pages, every write (the log is marked by Java's store
 * path only). A write to a page holding decoded code does hit: the native store checks the page's code mark
 * first ({@link #CODE_BIAS}) and exits when it is set, as the mark may be set by another vCPU at any time.
 */
public final class NativeTlb {
    /** Header words. */
    public static final int READ_ROW = 0, WRITE_ROW = 8, CODE_BIAS = 16, RAM_BASE = 24;
    /** Entry fields and size. */
    public static final int PAGE = 0, ADDEND = 8, ENTRY_BYTES = 16;
    /** The index of linear address {@code lin} is {@code (lin >>> 12) & INDEX_MASK}. */
    public static final int INDEX_MASK = Mmu.TLB_ENTRIES - 1;
    private static final int HEADER = 64;
    private static final long ROW_BYTES = (long) Mmu.TLB_ENTRIES * ENTRY_BYTES;

    private final MemorySegment segment;
    private final long ramBase;
    /** False when the machine logs dirty pages: no write entry is ever copied then. */
    private final boolean writes;

    NativeTlb(int spaces, MemorySegment ram, CodePages codePages, boolean writes) {
        this.ramBase = ram.address();
        if ((ramBase & 0xFFF) != 0) throw new IllegalArgumentException("RAM at " + Long.toHexString(ramBase) + " is not page aligned");
        this.writes = writes;
        // spaces x 2 privileges x 2 accesses rows; GC-managed: lives as long as the Mmu holding it.
        segment = Arena.ofAuto().allocate(HEADER + spaces * 4 * ROW_BYTES, 64);
        segment.asSlice(HEADER).fill((byte) -1);
        segment.set(ValueLayout.JAVA_LONG, CODE_BIAS, codePages.codeMapAddress() - (ramBase >>> 12));
        segment.set(ValueLayout.JAVA_LONG, RAM_BASE, ramBase);
        select(0, 0); // never a null row pointer, even before the Mmu selects its rows
    }

    /** The header's address: what native code is given. */
    public long address() { return segment.address(); }

    /** The header and rows, for reading in tests and tools. */
    public MemorySegment segment() { return segment; }

    private static long row(int space, int user, int access) {
        return HEADER + ((space * 2L + user) * 2 + access) * ROW_BYTES;
    }

    /** Makes the rows of {@code space} at privilege {@code user} (0 or 1) the current ones. */
    void select(int space, int user) {
        segment.set(ValueLayout.JAVA_LONG, READ_ROW, segment.address() + row(space, user, Mmu.READ));
        segment.set(ValueLayout.JAVA_LONG, WRITE_ROW, segment.address() + row(space, user, Mmu.WRITE));
    }

    /** Entry {@code idx}: {@code page} (or -1: no entry) whose 4 KiB lie at RAM offset {@code host}. */
    void set(int space, int user, int access, int idx, long page, long host) {
        long at = row(space, user, access) + (long) idx * ENTRY_BYTES;
        if (page < 0 || host < 0 || (access == Mmu.WRITE && !writes)) {
            segment.set(ValueLayout.JAVA_LONG, at + PAGE, -1L);
            return;
        }
        segment.set(ValueLayout.JAVA_LONG, at + ADDEND, ramBase + host - (page << 12));
        segment.set(ValueLayout.JAVA_LONG, at + PAGE, page);
    }

    /** Drops entry {@code idx} of one row. */
    void drop(int space, int user, int access, int idx) {
        segment.set(ValueLayout.JAVA_LONG, row(space, user, access) + (long) idx * ENTRY_BYTES + PAGE, -1L);
    }

    /** Drops every entry of {@code space}. */
    void clear(int space) {
        segment.asSlice(row(space, 0, 0), 4 * ROW_BYTES).fill((byte) -1);
    }

    /** The page number entry {@code idx} of a row holds (-1: none); for tests. */
    public long page(int space, int user, int access, int idx) {
        return segment.get(ValueLayout.JAVA_LONG, row(space, user, access) + (long) idx * ENTRY_BYTES + PAGE);
    }
}
