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

    /** The alignment of {@link #anonymous} mappings: x86-64's large page. */
    public static final long LARGE_PAGE = 2L << 20;

    /**
     * Maps zeroed anonymous memory at an address aligned to {@link #LARGE_PAGE}. Pages are committed only when
     * first touched, and the mapping is not charged against swap up front (MAP_NORESERVE), so guest RAM costs
     * what the guest uses.
     *
     * <p>Why aligned: KVM maps guest memory with 2 MiB pages only where the guest-physical and the host address
     * agree modulo 2 MiB; otherwise every 4 KiB the guest first touches is a nested page fault of its own, even
     * where the host backs the range with a transparent huge page. Under KVM nested in a software CPU each such
     * fault costs a fair fraction of a millisecond. QEMU aligns its RAM the same way. No advice here: guest RAM
     * asks for huge pages itself ({@code GuestMemory.allocate}), other users keep the host's setting.
     */
    public static MappedMemory anonymous(long length) {
        long span = length + LARGE_PAGE;
        long raw = Libc.mmap(span, Libc.PROT_READ | Libc.PROT_WRITE,
                Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE, -1, 0);
        long aligned = (raw + LARGE_PAGE - 1) & -LARGE_PAGE;
        // Give back the slack before and after the aligned range (both page multiples: mmap returns pages).
        if (aligned > raw) Libc.munmap(raw, aligned - raw);
        long tail = raw + span - (aligned + length);
        if (tail > 0) Libc.munmap(aligned + length, tail);
        return new MappedMemory(aligned, length);
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
