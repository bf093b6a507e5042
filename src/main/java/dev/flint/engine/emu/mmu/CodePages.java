package dev.flint.engine.emu.mmu;

import dev.flint.machine.GuestMemory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Which RAM pages hold code that some vCPU decoded into a block, and a version per page that every
 * write to such a page bumps. Shared by all vCPUs of a machine (one per {@link GuestMemory}).
 *
 * <p>Why: a decoded block used to compare all its code bytes with guest memory on every entry (a
 * 47-instruction block compared 21 words, about a fifth of the sha256 job's time). Now a block notes the
 * version of its page when it is decoded or checked, and on entry compares that one number. Only a
 * changed version costs the byte comparison (which then renews the block if its own bytes are intact, so
 * a page mixing code and data degrades to the old cost, no further).
 *
 * <p>The writers that tell it: every guest store of every vCPU ({@link PhysicalMemory}, the CAS paths
 * of {@link Mmu}) and the checked accessors of {@link GuestMemory} that devices and loaders use (its
 * write watch). Order makes it exact on one thread: a block marks its page before reading the page's
 * version and bytes; a store writes the bytes before it looks at the mark. Across threads, a block
 * decoded while another vCPU or a device writes the same code is the race that hardware also leaves to
 * the guest (cross-modifying code must be followed by a serializing instruction).
 *
 * <p>The code marks are one byte per page off the heap ({@link #codeMapAddress()}), so that native code can
 * read them: a native tier's store checks its page's byte and leaves the store to Java (which bumps the
 * version) when the page holds decoded code ({@link NativeTlb}).
 */
public final class CodePages implements GuestMemory.WriteWatch {
    /** One byte per RAM page, 1 while the page holds decoded code; off-heap, GC-managed (lives as long as this). */
    private final MemorySegment code;
    private final int[] version;

    private CodePages(long ramBytes) {
        int pages = (int) ((ramBytes + 4095) >>> 12);
        code = Arena.ofAuto().allocate(Math.max(1, pages), 64);
        version = new int[pages];
    }

    /** The address of the code mark of RAM page 0 (the mark of host page {@code p} is at {@code p} bytes past it). */
    public long codeMapAddress() { return code.address(); }

    /** True while the page at host offset {@code hostPage} is marked as holding decoded code. */
    public boolean isCode(long hostPage) { return code.get(ValueLayout.JAVA_BYTE, hostPage >>> 12) != 0; }

    /** The tracker of {@code memory}'s pages, created and set as its write watch on first use. */
    public static CodePages of(GuestMemory memory) {
        synchronized (memory) {
            if (memory.writeWatch() instanceof CodePages pages) return pages;
            CodePages pages = new CodePages(memory.size());
            memory.watchWrites(pages);
            return pages;
        }
    }

    /**
     * Marks the page at host offset {@code hostPage} as holding decoded code and returns its version:
     * call before reading the code bytes, so a write after the read changes the version.
     */
    public int markCode(long hostPage) {
        int p = (int) (hostPage >>> 12);
        code.set(ValueLayout.JAVA_BYTE, p, (byte) 1);
        return version[p];
    }

    /** The version of the page at host offset {@code hostPage}. */
    public int version(long hostPage) { return version[(int) (hostPage >>> 12)]; }

    /**
     * Version bumps of all pages so far: a reader that keeps versions of many pages (the native tier's chains
     * across pages) compares this one number first and looks at its pages only when it moved.
     */
    public long changes() { return changes; }

    private long changes;

    /**
     * A store of a vCPU at host offset {@code off} (within one page, bytes already written): true if the page
     * held decoded code, whose version is now bumped.
     */
    boolean stored(long off) {
        int p = (int) (off >>> 12);
        if (code.get(ValueLayout.JAVA_BYTE, p) == 0) return false;
        code.set(ValueLayout.JAVA_BYTE, p, (byte) 0); // until a block is decoded or checked there again
        version[p]++;
        changes++;
        return true;
    }

    @Override
    public void written(long hostOffset, long len) {
        if (len <= 0) return;
        for (long p = hostOffset >>> 12, last = (hostOffset + len - 1) >>> 12; p <= last && p < version.length; p++) {
            if (code.get(ValueLayout.JAVA_BYTE, p) != 0) {
                code.set(ValueLayout.JAVA_BYTE, p, (byte) 0);
                version[(int) p]++;
                changes++;
            }
        }
    }
}
