package dev.flint.machine;

import java.util.Arrays;

/**
 * Which 4 KiB pages of guest RAM were written since tracking began or since the last {@link #clear}:
 * what a Diff snapshot's memory file holds (Firecracker's {@code track_dirty_pages}). Pages are numbered by
 * their host offset in {@link GuestMemory#segment()} (offset / 4096), which is also their offset in a
 * snapshot's memory file.
 *
 * <p>Who marks: every write through {@link GuestMemory}'s accessors (device DMA, the boot loader, balloon
 * discards), the emu engine's vCPU stores, and an engine that keeps its own log (KVM's dirty bitmap) when
 * asked to hand it over ({@code VirtualMachine.collectDirtyPages}).
 *
 * <p>One byte per page, written with plain byte stores: vCPU and device threads mark pages without locks or
 * atomics, since a byte store never tears or rewrites its neighbours (unlike setting a bit in a shared
 * word). The marks are read and cleared only while the machine is paused, and pausing orders every
 * thread's marks before that read.
 */
public final class DirtyPages {
    public static final int PAGE_SIZE = 4096;
    private static final int PAGE_SHIFT = 12;

    private final byte[] dirty;

    DirtyPages(long ramBytes) {
        long pages = (ramBytes + PAGE_SIZE - 1) >>> PAGE_SHIFT;
        if (pages > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("guest memory too large to track: " + ramBytes);
        dirty = new byte[(int) pages];
    }

    /** Marks the page holding host offset {@code hostOffset} (the emu's store path: one byte store). */
    public void mark(long hostOffset) { dirty[(int) (hostOffset >>> PAGE_SHIFT)] = 1; }

    /** Marks every page that {@code len} bytes from host offset {@code hostOffset} touch. */
    public void mark(long hostOffset, long len) {
        if (len <= 0) return;
        for (long p = hostOffset >>> PAGE_SHIFT, last = (hostOffset + len - 1) >>> PAGE_SHIFT; p <= last && p < dirty.length; p++) {
            dirty[(int) p] = 1;
        }
    }

    /** Marks page number {@code page} (an engine's own log handed over). */
    public void markPage(int page) { dirty[page] = 1; }

    public boolean isDirty(int page) { return dirty[page] != 0; }

    /** Pages of RAM, dirty or not. */
    public int pages() { return dirty.length; }

    /** How many pages are dirty. */
    public int count() {
        int n = 0;
        for (byte b : dirty) n += b;
        return n;
    }

    /** Starts the next interval: every page clean. Only while the machine is paused, after a snapshot is written. */
    public void clear() { Arrays.fill(dirty, (byte) 0); }
}
