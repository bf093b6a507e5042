package dev.flint.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Objects;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * {@code preadv2}/{@code pwritev2} of one range of a native segment (guest RAM) at a file position
 * ({@code pread}/{@code pwrite} when there are no flags), for a
 * thread that calls them per request: the iovec and the errno capture buffer are this instance's own and
 * reused, and failures come back as a negated errno instead of an exception, because some are expected on
 * the hot path ({@code EAGAIN} from {@link #NOWAIT}: the data is not in the page cache).
 *
 * <p>One thread uses an instance. The range is checked against the segment's bounds on every call, so no
 * address outside it reaches the kernel.
 */
public final class PositionalIo implements AutoCloseable {
    /** {@code RWF_NOWAIT}: fail with EAGAIN instead of waiting for the disk (or a lock). */
    public static final int NOWAIT = 0x8;
    public static final int EAGAIN = 11, EOPNOTSUPP = 95, EINTR = 4;

    private static final MethodHandle PREADV2 = Downcalls.withErrno("preadv2",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_INT), -1);
    private static final MethodHandle PWRITEV2 = Downcalls.withErrno("pwritev2",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_INT), -1);

    /**
     * The plain calls, for an operation without flags: the kernel copies straight to or from the one user
     * buffer ({@code ITER_UBUF}) where the vectored calls first copy in and check an iovec, which measured
     * about 0.15 µs per 4 KiB operation (docs/block-path.md, Rounds 4 and 6). The buffer's address is passed
     * as a 64-bit integer (the same register in the x86-64 and AArch64 calling conventions), so a call makes
     * no segment object; it has been checked against the caller's segment first.
     */
    private static final MethodHandle PREAD = Downcalls.withErrno("pread",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG), -1);
    private static final MethodHandle PWRITE = Downcalls.withErrno("pwrite",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG), -1);

    private final Arena arena = Arena.ofShared(); // closed by whichever thread closes the device
    private final MemorySegment iov = arena.allocate(Libc.IOVEC_BYTES, 8);
    private final MemorySegment captured = Downcalls.newCaptureBuffer();

    /**
     * Reads up to {@code length} bytes at {@code position} into {@code memory} from {@code offset}: the bytes
     * read (fewer at the end of the file, or when {@link #NOWAIT} found only part in the cache) or -errno.
     */
    public long read(int fd, MemorySegment memory, long offset, long length, long position, int flags) {
        return call(PREADV2, fd, memory, offset, length, position, flags);
    }

    /** Writes up to {@code length} bytes of {@code memory} from {@code offset} at {@code position}: bytes written or -errno. */
    public long write(int fd, MemorySegment memory, long offset, long length, long position, int flags) {
        return call(PWRITEV2, fd, memory, offset, length, position, flags);
    }

    /**
     * {@code preadv2} into the {@code count} buffers {@code iovecs} describes from entry {@code first} (a request
     * scattered over guest RAM, one call): bytes read or -errno. The caller has checked the buffers the iovecs name.
     */
    public long readv(int fd, MemorySegment iovecs, int first, int count, long position, int flags) {
        return vectored(PREADV2, fd, iovecs, first, count, position, flags);
    }

    /** {@code pwritev2} of the buffers the iovecs name, as {@link #readv}: bytes written or -errno. */
    public long writev(int fd, MemorySegment iovecs, int first, int count, long position, int flags) {
        return vectored(PWRITEV2, fd, iovecs, first, count, position, flags);
    }

    private long vectored(MethodHandle handle, int fd, MemorySegment iovecs, int first, int count, long position, int flags) {
        if (!iovecs.isNative()) throw new IllegalArgumentException("iovecs must be native memory");
        Objects.checkFromIndexSize(first * Libc.IOVEC_BYTES, count * Libc.IOVEC_BYTES, iovecs.byteSize());
        if (position < 0) throw new IllegalArgumentException("negative file position");
        MemorySegment at = iovecs.asSlice(first * Libc.IOVEC_BYTES); // a blocking call's path: the view costs nothing next to it
        while (true) {
            long r;
            try {
                r = (long) handle.invokeExact(captured, fd, at, count, position, flags);
            } catch (Throwable t) {
                throw Downcalls.unchecked(t);
            }
            if (r >= 0) return r;
            int errno = Downcalls.errno(captured);
            if (errno != EINTR) return -errno;
        }
    }

    private long call(MethodHandle handle, int fd, MemorySegment memory, long offset, long length, long position, int flags) {
        if (!memory.isNative()) throw new IllegalArgumentException("positional I/O needs native memory");
        Objects.checkFromIndexSize(offset, length, memory.byteSize());
        if (position < 0) throw new IllegalArgumentException("negative file position");
        if (flags == 0) return plain(handle == PREADV2 ? PREAD : PWRITE, fd, memory.address() + offset, length, position);
        iov.set(JAVA_LONG, 0, memory.address() + offset);
        iov.set(JAVA_LONG, 8, length);
        while (true) {
            long r;
            try {
                r = (long) handle.invokeExact(captured, fd, iov, 1, position, flags);
            } catch (Throwable t) {
                throw Downcalls.unchecked(t);
            }
            if (r >= 0) return r;
            int errno = Downcalls.errno(captured);
            if (errno != EINTR) return -errno;
        }
    }

    /** pread/pwrite of one buffer, the range already checked; EINTR is retried. */
    private long plain(MethodHandle handle, int fd, long address, long length, long position) {
        while (true) {
            long r;
            try {
                r = (long) handle.invokeExact(captured, fd, address, length, position);
            } catch (Throwable t) {
                throw Downcalls.unchecked(t);
            }
            if (r >= 0) return r;
            int errno = Downcalls.errno(captured);
            if (errno != EINTR) return -errno;
        }
    }

    @Override
    public void close() {
        arena.close();
    }
}
