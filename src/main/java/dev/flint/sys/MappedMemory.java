package dev.flint.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A native mapping made with mmap. Its segment belongs to a shared arena whose closing unmaps it: after
 * {@link #close} any access through the segment fails with an exception instead of touching unmapped
 * memory (a late device thread must not crash the JVM).
 */
public final class MappedMemory implements AutoCloseable {
    private final Arena arena = Arena.ofShared();
    private final MemorySegment segment;

    private MappedMemory(long address, long length) {
        this.segment = MemorySegment.ofAddress(address).reinterpret(length, arena, s -> Libc.munmap(address, length));
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

    /**
     * Maps the first {@code length} bytes of the file at {@code path} copy-on-write (MAP_PRIVATE): pages
     * are read from the file when first touched, writes go to private copies and never reach the file.
     * The file is opened read-only and closed again (the mapping keeps it). A snapshot's memory file.
     */
    public static MappedMemory privateCopyOf(String path, long length) {
        int fd = Libc.open(path, Libc.O_RDONLY | Libc.O_CLOEXEC);
        try {
            return new MappedMemory(Libc.mmap(length, Libc.PROT_READ | Libc.PROT_WRITE,
                    Libc.MAP_PRIVATE | Libc.MAP_NORESERVE, fd, 0), length);
        } finally {
            Libc.close(fd);
        }
    }

    /** The mapping; unusable after {@link #close}. */
    public MemorySegment segment() { return segment; }

    /** Unmaps; idempotent. */
    @Override
    public synchronized void close() {
        if (arena.scope().isAlive()) arena.close();
    }
}
