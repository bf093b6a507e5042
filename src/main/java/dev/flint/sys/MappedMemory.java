package dev.flint.sys;

import java.lang.foreign.MemorySegment;

/** A native mapping made with mmap, unmapped exactly once by {@link #close}. */
public final class MappedMemory implements AutoCloseable {
    private final long address;
    private final long length;
    private final MemorySegment segment;
    private boolean closed;

    private MappedMemory(long address, long length) {
        this.address = address;
        this.length = length;
        this.segment = MemorySegment.ofAddress(address).reinterpret(length);
    }

    /** Maps {@code length} bytes of {@code fd} at {@code offset}, shared and read/write (e.g. KVM's kvm_run). */
    public static MappedMemory shared(int fd, long length, long offset) {
        return new MappedMemory(Libc.mmap(length, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, offset), length);
    }

    /**
     * Maps zeroed anonymous memory. Pages are committed only when first touched, and the mapping is not
     * charged against swap up front (MAP_NORESERVE), so guest RAM costs what the guest uses.
     */
    public static MappedMemory anonymous(long length) {
        return new MappedMemory(Libc.mmap(length, Libc.PROT_READ | Libc.PROT_WRITE,
                Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE, -1, 0), length);
    }

    /** The mapping; do not use it after {@link #close}. */
    public MemorySegment segment() { return segment; }

    public long address() { return address; }

    public long length() { return length; }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        Libc.munmap(address, length);
    }
}
