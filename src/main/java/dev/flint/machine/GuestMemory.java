package dev.flint.machine;

import dev.flint.sys.FileDescriptor;
import dev.flint.sys.MappedMemory;
import dev.flint.sys.SharedMapping;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

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

    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Releases the host memory, or null when the caller owns it ({@link #wrap}). */
    private final AutoCloseable owner;
    private final MemorySegment ram;
    private final long lowSize;
    private final long highSize;
    /** The memfd behind RAM when it is shareable with another process ({@link #allocateShared}), else null. */
    private final FileDescriptor sharedFile;

    private GuestMemory(AutoCloseable owner, MemorySegment ram) {
        this(owner, ram, null);
    }

    private GuestMemory(AutoCloseable owner, MemorySegment ram, FileDescriptor sharedFile) {
        this.owner = owner;
        this.sharedFile = sharedFile;
        this.ram = ram;
        this.lowSize = Math.min(ram.byteSize(), LOW_RAM_LIMIT);
        this.highSize = ram.byteSize() - lowSize;
    }

    /**
     * Allocates zeroed guest RAM of the given size. The memory is an anonymous mmap (page-aligned, as KVM
     * memory slots need, and committed by the host kernel only when touched), so a large guest costs
     * nothing until it uses its pages. ({@code Arena.allocate} would zero-fill and so commit all of it.)
     */
    public static GuestMemory allocate(long bytes) {
        if (bytes <= 0 || (bytes & 0xFFF) != 0) {
            throw new IllegalArgumentException("guest memory must be a positive multiple of 4 KiB: " + bytes);
        }
        MappedMemory mapping = MappedMemory.anonymous(bytes);
        return new GuestMemory(mapping, mapping.segment());
    }

    /**
     * Allocates zeroed guest RAM in a memfd mapped shared, so another process (a vhost-user back end) can
     * map the same pages from {@link #sharedFile()}. Like {@link #allocate}, pages cost nothing until touched.
     */
    public static GuestMemory allocateShared(long bytes) {
        if (bytes <= 0 || (bytes & 0xFFF) != 0) {
            throw new IllegalArgumentException("guest memory must be a positive multiple of 4 KiB: " + bytes);
        }
        FileDescriptor file = SharedMapping.memfd("flint-guest-ram", bytes);
        try {
            SharedMapping mapping = SharedMapping.ofFile(file.fd(), bytes);
            return new GuestMemory(() -> {
                mapping.close();
                file.close();
            }, mapping.segment(), file);
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
    }

    /** The memfd holding RAM (offset N of it is byte N of {@link #segment()}), or null if RAM is private. */
    public FileDescriptor sharedFile() { return sharedFile; }

    /** Wraps an existing segment (for example an mmap made by the KVM engine); the caller owns it. */
    public static GuestMemory wrap(MemorySegment segment) {
        return new GuestMemory(null, segment);
    }

    public MemorySegment segment() { return ram; }
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

    /** A view of guest RAM; fails unless the whole range is RAM in one region. */
    public MemorySegment slice(long gpa, long len) { return ram.asSlice(checked(gpa, len), len); }

    public byte readByte(long gpa) { return ram.get(ValueLayout.JAVA_BYTE, checked(gpa, 1)); }
    public short readShort(long gpa) { return ram.get(SHORT, checked(gpa, 2)); }
    public int readInt(long gpa) { return ram.get(INT, checked(gpa, 4)); }
    public long readLong(long gpa) { return ram.get(LONG, checked(gpa, 8)); }

    public void writeByte(long gpa, byte v) { ram.set(ValueLayout.JAVA_BYTE, checked(gpa, 1), v); }
    public void writeShort(long gpa, short v) { ram.set(SHORT, checked(gpa, 2), v); }
    public void writeInt(long gpa, int v) { ram.set(INT, checked(gpa, 4), v); }
    public void writeLong(long gpa, long v) { ram.set(LONG, checked(gpa, 8), v); }

    public void read(long gpa, byte[] dst, int off, int len) {
        MemorySegment.copy(ram, ValueLayout.JAVA_BYTE, checked(gpa, len), dst, off, len);
    }

    public void write(long gpa, byte[] src, int off, int len) {
        MemorySegment.copy(src, off, ram, ValueLayout.JAVA_BYTE, checked(gpa, len), len);
    }

    public void write(long gpa, byte[] src) { write(gpa, src, 0, src.length); }

    @Override
    public void close() {
        try {
            if (owner != null) owner.close();
        } catch (Exception e) {
            throw new IllegalStateException("releasing guest memory: " + e.getMessage(), e);
        }
    }
}
