package dev.flint.machine;

import dev.flint.sys.FileDescriptor;
import dev.flint.sys.MappedMemory;
import dev.flint.sys.MemoryAdvice;
import dev.flint.sys.SharedMapping;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.logging.Logger;

/**
 * Guest RAM and its guest-physical layout.
 *
 * <p>RAM is one host mapping. The guest sees it in at most two regions: the part below the 32-bit
 * MMIO hole ({@link #LOW_RAM_LIMIT}, where PCI windows, the IOAPIC and the LAPIC live) at guest-physical
 * address 0, and the rest starting at 4 GiB. Every accessor is bounds-checked: anything a guest or a
 * device asks for outside RAM throws {@link GuestMemoryException}, never touches host memory.
 *
 * <p>Engines that want a fast path (the emu software TLB, KVM memory slots) use {@link #segment()} with
 * {@link #hostOffset(long, long)}; devices use the checked accessors.
 */
public final class GuestMemory implements AutoCloseable {
    /** Guest-physical start of the 32-bit MMIO hole; RAM above this is relocated to 4 GiB. */
    public static final long LOW_RAM_LIMIT = 0xC000_0000L;
    public static final long HIGH_RAM_START = 0x1_0000_0000L;

    private static final Logger LOG = Logger.getLogger(GuestMemory.class.getName());

    /**
     * Whether {@link #allocate} and {@link #allocateShared} advise RAM onto transparent huge pages; turned off
     * with {@code -Dflint.memory.hugepages=false} (RAM then follows the host's THP mode alone).
     */
    public static final boolean HUGE_PAGES = !"false".equals(System.getProperty("flint.memory.hugepages"));

    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Releases the host memory, or null when the caller owns it ({@link #wrap}). */
    private final AutoCloseable owner;
    private final MemorySegment ram;
    private final long lowSize;
    private final long highSize;
    /** Told of every write through the accessors here (device DMA, loaders), or null. */
    private volatile WriteWatch watch;
    /** The pages written since the last snapshot, when dirty page tracking is on; else null. */
    private volatile DirtyPages dirty;

    /**
     * Learns which RAM the accessors of {@link GuestMemory} may have written: the emu engine uses it to
     * notice device DMA into pages it has translated code from. Called before the bytes change for
     * {@link #slice} (the caller writes through the view afterwards) and after them for the writes.
     */
    public interface WriteWatch {
        /** {@code len} bytes from {@code hostOffset} in {@link #segment()} were or are about to be written. */
        void written(long hostOffset, long len);
    }
    /**
     * How {@link #discard} gives pages back: MADV_DONTNEED for a private mapping, MADV_REMOVE for a shared
     * one, or 0 when this object does not know how the memory was made ({@link #wrap}) and so may not.
     */
    private final int discardAdvice;

    /** The memfd behind RAM when it is shareable with another process ({@link #allocateShared}), else null. */
    private final FileDescriptor sharedFile;

    private GuestMemory(AutoCloseable owner, MemorySegment ram) {
        this(owner, ram, 0, null);
    }

    private GuestMemory(AutoCloseable owner, MemorySegment ram, int discardAdvice) {
        this(owner, ram, discardAdvice, null);
    }

    private GuestMemory(AutoCloseable owner, MemorySegment ram, int discardAdvice, FileDescriptor sharedFile) {
        this.owner = owner;
        this.sharedFile = sharedFile;
        this.ram = ram;
        this.discardAdvice = discardAdvice;
        this.lowSize = Math.min(ram.byteSize(), LOW_RAM_LIMIT);
        this.highSize = ram.byteSize() - lowSize;
    }

    /**
     * Allocates zeroed guest RAM of the given size. The memory is an anonymous mmap (page-aligned, as KVM
     * memory slots need, and committed by the host kernel only when touched), so a large guest costs
     * nothing until it uses its pages. ({@code Arena.allocate} would zero-fill and so commit all of it.)
     */
    public static GuestMemory allocate(long bytes) {
        return allocate(bytes, HUGE_PAGES);
    }

    /**
     * {@link #allocate(long)}, advised onto transparent huge pages when {@code hugePages} (as QEMU and Cloud
     * Hypervisor advise theirs). Why: a block device's copy of a 1 MiB request into RAM costs its I/O thread about
     * a third less on 2 MiB pages than on 4 KiB ones (docs/block-path.md, Round 8), and KVM can map the guest
     * with 2 MiB pages only where the host does. The cost: a guest's first touch of a 2 MiB range commits all of
     * it. Giving back 4 KiB pages ({@link #discard}) lowers RSS at once (the kernel splits the huge page's
     * mapping), but the host gets that memory only when the kernel splits the page itself, under memory
     * pressure: a machine with a balloon is better off without the advice (the VMM decides).
     */
    public static GuestMemory allocate(long bytes, boolean hugePages) {
        if (bytes <= 0 || (bytes & 0xFFF) != 0) {
            throw new IllegalArgumentException("guest memory must be a positive multiple of 4 KiB: " + bytes);
        }
        MappedMemory mapping = MappedMemory.anonymous(bytes);
        // As QEMU does: a child process never needs guest RAM, and the mapping stays one VMA of its own
        // (never merged with the JVM's anonymous memory), so /proc/PID/smaps shows what the guest costs.
        try {
            MemoryAdvice.advise(mapping.segment().address(), bytes, MemoryAdvice.MADV_DONTFORK);
        } catch (dev.flint.sys.ErrnoException e) {
            // Only bookkeeping is lost; the memory works the same.
        }
        if (hugePages) adviseHugePages(mapping.segment(), "anonymous");
        return new GuestMemory(mapping, mapping.segment(), MemoryAdvice.MADV_DONTNEED);
    }

    /**
     * Guest RAM mapped copy-on-write from a snapshot's memory file, which must hold exactly {@code bytes}
     * (a shorter file would fault the guest on its missing pages). Nothing is read up front: a restore
     * costs the page faults of what the guest touches.
     */
    public static GuestMemory mapSnapshot(java.nio.file.Path file, long bytes) {
        if (bytes <= 0 || (bytes & 0xFFF) != 0) {
            throw new IllegalArgumentException("guest memory must be a positive multiple of 4 KiB: " + bytes);
        }
        long size;
        try {
            size = java.nio.file.Files.size(file);
        } catch (java.io.IOException e) {
            throw new GuestMemoryFileException("cannot read memory file " + file + ": " + e.getMessage());
        }
        // A page beyond the end of a private file mapping is SIGBUS, not zeros: refuse a short file.
        if (size != bytes) {
            throw new GuestMemoryFileException("memory file " + file + " holds " + size + " bytes; the snapshot's guest has "
                    + bytes);
        }
        MappedMemory mapping;
        try {
            mapping = MappedMemory.privateCopyOf(file.toString(), bytes);
        } catch (RuntimeException e) {
            throw new GuestMemoryFileException("cannot map memory file " + file + ": " + e.getMessage());
        }
        return new GuestMemory(mapping, mapping.segment());
    }

    /**
     * Writes all of RAM to {@code file}, for a Full snapshot's memory file; the VM must be paused. See
     * {@link MemoryFile} (zero pages are holes; a file of RAM's size is overwritten in place, never truncated).
     */
    public void writeTo(java.nio.file.Path file) throws java.io.IOException {
        MemoryFile.writeFull(ram, file);
    }

    /**
     * Writes the pages written since tracking began or since the last {@link DirtyPages#clear} to
     * {@code file}, for a Diff snapshot's memory file, and returns how many; the VM must be paused and
     * {@link #trackDirtyPages()} on (IllegalStateException otherwise).
     */
    public int writeDirtyTo(java.nio.file.Path file) throws java.io.IOException {
        DirtyPages d = dirty;
        if (d == null) throw new IllegalStateException("dirty page tracking is off");
        return MemoryFile.writeDiff(ram, d, file);
    }

    /**
     * Allocates zeroed guest RAM in a memfd mapped shared, so another process (a vhost-user back end) can
     * map the same pages from {@link #sharedFile()}. Like {@link #allocate}, pages cost nothing until touched.
     */
    public static GuestMemory allocateShared(long bytes) {
        return allocateShared(bytes, HUGE_PAGES);
    }

    /** {@link #allocateShared(long)}, advised onto transparent huge pages when {@code hugePages}. */
    public static GuestMemory allocateShared(long bytes, boolean hugePages) {
        if (bytes <= 0 || (bytes & 0xFFF) != 0) {
            throw new IllegalArgumentException("guest memory must be a positive multiple of 4 KiB: " + bytes);
        }
        FileDescriptor file = SharedMapping.memfd("flint-guest-ram", bytes);
        try {
            SharedMapping mapping = SharedMapping.ofFile(file.fd(), bytes);
            // Takes effect only where the host lets shmem use huge pages (shmem_enabled "advise" or stronger);
            // under the common "never" the kernel accepts the advice and RAM stays on 4 KiB pages.
            if (hugePages) adviseHugePages(mapping.segment(), "shared");
            return new GuestMemory(() -> {
                mapping.close();
                file.close();
            }, mapping.segment(), MemoryAdvice.MADV_REMOVE, file);
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
    }

    /** madvise(MADV_HUGEPAGE) over all of {@code ram}; a refusal is logged once per RAM and RAM works the same. */
    private static void adviseHugePages(MemorySegment ram, String kind) {
        try {
            MemoryAdvice.advise(ram.address(), ram.byteSize(), MemoryAdvice.MADV_HUGEPAGE);
        } catch (dev.flint.sys.ErrnoException e) {
            LOG.warning(() -> "guest RAM (" + kind + ", " + (ram.byteSize() >> 20) + " MiB) stays on 4 KiB pages: "
                    + e.getMessage() + " (turn the advice off with -Dflint.memory.hugepages=false)");
        }
    }

    /** The memfd holding RAM (offset N of it is byte N of {@link #segment()}), or null if RAM is private. */
    public FileDescriptor sharedFile() { return sharedFile; }

    /** Wraps an existing segment (for example an mmap made by the KVM engine); the caller owns it. */
    public static GuestMemory wrap(MemorySegment segment) {
        return new GuestMemory(null, segment);
    }

    public MemorySegment segment() { return ram; }

    /** The write watch set by the engine, or null. */
    public WriteWatch writeWatch() { return watch; }

    /** Sets the one write watch (an engine's), replacing any before it. */
    public void watchWrites(WriteWatch w) { watch = w; }

    private long written(long off, long len) {
        WriteWatch w = watch;
        if (w != null) w.written(off, len);
        DirtyPages d = dirty;
        if (d != null) d.mark(off, len);
        return off;
    }

    /**
     * Turns on dirty page tracking (Firecracker's {@code track_dirty_pages}) and returns the log; idempotent.
     * From now on every write through the accessors here marks its pages. Call it before the engine is
     * created: an engine learns at creation whether it must log its vCPUs' stores too.
     */
    public synchronized DirtyPages trackDirtyPages() {
        if (dirty == null) dirty = new DirtyPages(ram.byteSize());
        return dirty;
    }

    /** The dirty page log, or null when tracking is off. */
    public DirtyPages dirtyPages() { return dirty; }
    public long size() { return ram.byteSize(); }
    public long lowRamSize() { return lowSize; }
    public long highRamSize() { return highSize; }

    /** Regions of RAM in guest-physical space, for e820 tables and memory slots. */
    public java.util.List<Region> regions() {
        var list = new java.util.ArrayList<Region>(2);
        list.add(new Region(0, lowSize, 0));
        if (highSize > 0) list.add(new Region(HIGH_RAM_START, highSize, lowSize));
        return list;
    }

    /** One contiguous range of guest-physical RAM and where it lives in {@link #segment()}. */
    public record Region(long guestPhys, long size, long hostOffset) {
        public long end() { return guestPhys + size; }
    }

    /**
     * Offset in {@link #segment()} of guest-physical {@code gpa}, if all {@code len} bytes from there are
     * RAM in one region; otherwise -1. This is the only place that knows the layout.
     */
    public long hostOffset(long gpa, long len) {
        if (len < 0) return -1;
        if (gpa >= 0 && gpa < lowSize) {
            return (len <= lowSize - gpa) ? gpa : -1;
        }
        if (highSize > 0 && gpa >= HIGH_RAM_START) {
            long rel = gpa - HIGH_RAM_START;
            return (rel < highSize && len <= highSize - rel) ? lowSize + rel : -1;
        }
        return -1;
    }

    /** True if the whole range is RAM. */
    public boolean isRam(long gpa, long len) { return hostOffset(gpa, len) >= 0; }

    private long checked(long gpa, long len) {
        long off = hostOffset(gpa, len);
        if (off < 0) throw new GuestMemoryException(gpa, len);
        return off;
    }

    /**
     * A view of guest RAM; fails unless the whole range is RAM in one region. Devices write into guest
     * memory through it, so the write watch hears of the whole range (reads too, conservatively).
     */
    public MemorySegment slice(long gpa, long len) { return ram.asSlice(written(checked(gpa, len), len), len); }

    /**
     * What {@link #slice} does without making a view: the offset in {@link #segment()} of {@code len} bytes
     * at {@code gpa}, after the write watch and dirty log heard of the range; a {@link GuestMemoryException}
     * unless it is RAM in one region. For a device's hot path, which hands the kernel segment plus offset.
     */
    public long deviceAccess(long gpa, long len) { return written(checked(gpa, len), len); }

    public byte readByte(long gpa) { return ram.get(ValueLayout.JAVA_BYTE, checked(gpa, 1)); }
    public short readShort(long gpa) { return ram.get(SHORT, checked(gpa, 2)); }
    public int readInt(long gpa) { return ram.get(INT, checked(gpa, 4)); }
    public long readLong(long gpa) { return ram.get(LONG, checked(gpa, 8)); }

    public void writeByte(long gpa, byte v) { long o = checked(gpa, 1); ram.set(ValueLayout.JAVA_BYTE, o, v); written(o, 1); }
    public void writeShort(long gpa, short v) { long o = checked(gpa, 2); ram.set(SHORT, o, v); written(o, 2); }
    public void writeInt(long gpa, int v) { long o = checked(gpa, 4); ram.set(INT, o, v); written(o, 4); }
    public void writeLong(long gpa, long v) { long o = checked(gpa, 8); ram.set(LONG, o, v); written(o, 8); }

    public void read(long gpa, byte[] dst, int off, int len) {
        MemorySegment.copy(ram, ValueLayout.JAVA_BYTE, checked(gpa, len), dst, off, len);
    }

    public void write(long gpa, byte[] src, int off, int len) {
        long o = checked(gpa, len);
        MemorySegment.copy(src, off, ram, ValueLayout.JAVA_BYTE, o, len);
        written(o, len);
    }

    public void write(long gpa, byte[] src) { write(gpa, src, 0, src.length); }

    /** Whether {@link #discard} can give pages back to the host (RAM this object mapped itself). */
    public boolean canDiscard() { return discardAdvice != 0; }

    /**
     * Returns the whole pages [{@code gpa}, {@code gpa + len}) to the host: their host memory is freed
     * (madvise) and they read as zeroes when the guest touches them again. The range must be page-aligned
     * RAM within one region ({@link GuestMemoryException} otherwise); nothing happens when
     * {@link #canDiscard()} is false.
     */
    public void discard(long gpa, long len) {
        if ((gpa & (MemoryAdvice.PAGE_SIZE - 1)) != 0 || (len & (MemoryAdvice.PAGE_SIZE - 1)) != 0 || len <= 0) {
            throw new GuestMemoryException(gpa, len);
        }
        long off = checked(gpa, len);
        if (discardAdvice == 0) return;
        // After close the address may belong to another mapping; devices stop before memory is freed.
        if (!ram.scope().isAlive()) throw new IllegalStateException("guest memory is closed");
        MemoryAdvice.advise(ram.address() + off, len, discardAdvice);
        written(off, len); // the pages now read as zeroes: code translated from them is stale, a Diff must hold them
    }

    @Override
    public void close() {
        try {
            if (owner != null) owner.close();
        } catch (Exception e) {
            throw new IllegalStateException("releasing guest memory: " + e.getMessage(), e);
        }
    }
}
