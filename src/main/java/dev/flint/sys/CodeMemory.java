package dev.flint.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Memory for machine code made at run time, mapped twice: one anonymous shared-memory file ({@code memfd})
 * mapped read+write for the code's writer and read+execute to run it. No page is ever both writable and
 * executable in one mapping, yet writing code costs no system call (flipping protections with
 * {@code mprotect} costs 19-45 µs a write, docs/emu-speed.md round eleven). Both views see the same pages:
 * bytes written through {@link #writable()} are what the executable view runs.
 *
 * <p>Linux only ({@code memfd_create}); the caller decides whether the host can run what it writes. Closing
 * unmaps both views; accesses through the writable segment afterwards fail with an exception, and calls
 * into the executable view afterwards are the caller's bug (they would fault), so the caller closes only
 * when nothing can enter the code any more.
 */
public final class CodeMemory implements AutoCloseable {
    private final Arena arena = Arena.ofShared();
    private final long size;
    private final long writableAddress;
    private final long executableAddress;
    private final MemorySegment writable;

    private CodeMemory(long size, long writableAddress, long executableAddress) {
        this.size = size;
        this.writableAddress = writableAddress;
        this.executableAddress = executableAddress;
        this.writable = MemorySegment.ofAddress(writableAddress).reinterpret(size, arena, null);
    }

    /**
     * {@code size} bytes (a positive multiple of 4 KiB) of zeroed code memory; {@code name} shows in
     * {@code /proc/PID/maps} as {@code /memfd:NAME}.
     */
    public static CodeMemory create(String name, long size) {
        if (size <= 0 || (size & 0xFFF) != 0) throw new IllegalArgumentException("code memory size " + size + " is not whole pages");
        try (FileDescriptor fd = SharedMapping.memfd(name, size)) {
            long rw = Libc.mmap(size, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd.fd(), 0);
            long rx;
            try {
                rx = Libc.mmap(size, Libc.PROT_READ | Libc.PROT_EXEC, Libc.MAP_SHARED, fd.fd(), 0);
            } catch (RuntimeException e) {
                Libc.munmap(rw, size);
                throw e;
            }
            // The two mappings keep the file alive; its descriptor is no longer needed.
            return new CodeMemory(size, rw, rx);
        }
    }

    /** The read+write view, for writing code; unusable after {@link #close}. */
    public MemorySegment writable() { return writable; }

    /** Where the read+execute view starts: the address code runs at. */
    public long executableAddress() { return executableAddress; }

    public long size() { return size; }

    /** Unmaps both views; idempotent. */
    @Override
    public synchronized void close() {
        if (!arena.scope().isAlive()) return;
        arena.close();
        Libc.munmap(writableAddress, size);
        Libc.munmap(executableAddress, size);
    }
}
