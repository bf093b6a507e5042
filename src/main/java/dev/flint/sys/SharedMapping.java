package dev.flint.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Another process's memory mapped into this one: a reservation of address space (anonymous, private,
 * not committed) into which pieces of shared files (the memfds a vhost-user front end sends) are mapped
 * at chosen offsets. Whatever no file covers stays private zero pages, so a stray access reads zeroes
 * instead of faulting. Closing unmaps the whole range at once; accesses through the segment afterwards
 * fail with an exception.
 */
public final class SharedMapping implements AutoCloseable {
    private static final int MAP_FIXED = 0x10, SEEK_END = 2, MFD_CLOEXEC = 1;
    private static final MethodHandle MMAP = call("mmap",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle LSEEK = call("lseek", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT));
    private static final MethodHandle MEMFD_CREATE = call("memfd_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle FTRUNCATE = call("ftruncate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));

    private final Arena arena = Arena.ofShared();
    private final long base;
    private final long length;
    private final MemorySegment segment;

    private SharedMapping(long base, long length) {
        this.base = base;
        this.length = length;
        this.segment = MemorySegment.ofAddress(base).reinterpret(length, arena, s -> Libc.munmap(base, length));
    }

    private static MethodHandle call(String name, FunctionDescriptor fd) {
        return Downcalls.withErrno(name, fd, -1);
    }

    private static long checked(String what, Downcalls.ErrnoCall call) {
        return Downcalls.checked(what, call);
    }

    /** Reserves {@code length} bytes (a multiple of 4 KiB) of zeroed, uncommitted address space. */
    public static SharedMapping reserve(long length) {
        if (length <= 0 || (length & 0xFFF) != 0) throw new IllegalArgumentException("mapping length " + length);
        long address = checked("mmap", e -> (long) MMAP.invokeExact(e, 0L, length, Libc.PROT_READ | Libc.PROT_WRITE,
                Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE, -1, 0L));
        return new SharedMapping(address, length);
    }

    /**
     * Maps {@code size} bytes of {@code fd} from {@code fileOffset} shared and read/write at {@code offset}
     * of the reservation. All values must be multiples of 4 KiB and the piece must lie inside.
     */
    public void map(long offset, long size, int fd, long fileOffset) {
        if (offset < 0 || size <= 0 || fileOffset < 0 || ((offset | size | fileOffset) & 0xFFF) != 0 || size > length - offset) {
            throw new IllegalArgumentException("piece [" + offset + ", +" + size + ") at file offset " + fileOffset
                    + " does not fit a mapping of " + length + " bytes");
        }
        if (!arena.scope().isAlive()) throw new IllegalStateException("mapping closed");
        long at = base + offset;
        checked("mmap", e -> (long) MMAP.invokeExact(e, at, size, Libc.PROT_READ | Libc.PROT_WRITE,
                Libc.MAP_SHARED | MAP_FIXED, fd, fileOffset));
    }

    /** The size of the file behind {@code fd} (its end, as lseek finds it). */
    public static long fileSize(int fd) {
        return checked("lseek", e -> (long) LSEEK.invokeExact(e, fd, 0L, SEEK_END));
    }

    /** A new anonymous shared-memory file of {@code size} bytes (close-on-exec), named {@code name} in /proc. */
    public static FileDescriptor memfd(String name, long size) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cName = arena.allocateFrom(name);
            FileDescriptor fd = new FileDescriptor((int) checked("memfd_create", e -> (int) MEMFD_CREATE.invokeExact(e, cName, MFD_CLOEXEC)));
            try {
                int n = fd.fd();
                checked("ftruncate", e -> (int) FTRUNCATE.invokeExact(e, n, size));
                return fd;
            } catch (RuntimeException ex) {
                fd.close();
                throw ex;
            }
        }
    }

    /** Maps all {@code size} bytes of {@code fd} shared, read/write. */
    public static SharedMapping ofFile(int fd, long size) {
        SharedMapping m = reserve(size);
        try {
            m.map(0, size, fd, 0);
            return m;
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /** The whole range; unusable after {@link #close}. */
    public MemorySegment segment() { return segment; }

    public long length() { return length; }

    /** Unmaps everything; idempotent. */
    @Override
    public synchronized void close() {
        if (arena.scope().isAlive()) arena.close();
    }
}
