package dev.flint.sys;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The holes of a sparse file: deallocating ranges ({@code fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)}:
 * the range reads back as zeroes and its blocks return to the file system, as a disk's discard asks) and
 * finding where data and holes lie ({@code lseek(SEEK_DATA / SEEK_HOLE)}: what a Diff snapshot's memory file
 * holds). Its own descriptor on the file, closed with it.
 */
public final class FileHoles implements AutoCloseable {
    private static final int FALLOC_FL_KEEP_SIZE = 0x01, FALLOC_FL_PUNCH_HOLE = 0x02;
    private static final int SEEK_DATA = 3, SEEK_HOLE = 4, ENXIO = 6;
    private static final MethodHandle FALLOCATE = Downcalls.withErrno("fallocate",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), -1);
    private static final MethodHandle LSEEK = Downcalls.withErrno("lseek",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT), -1);

    private final FileDescriptor fd;

    private FileHoles(FileDescriptor fd) { this.fd = fd; }

    /** Opens {@code path} read-write for punching holes. */
    public static FileHoles open(String path) {
        return new FileHoles(FileDescriptor.open(path, Libc.O_RDWR | Libc.O_CLOEXEC));
    }

    /** Opens {@code path} read-only, for {@link #nextData} and {@link #nextHole} only. */
    public static FileHoles openReadOnly(String path) {
        return new FileHoles(FileDescriptor.open(path, Libc.O_RDONLY | Libc.O_CLOEXEC));
    }

    /** Deallocates {@code length} bytes at {@code offset}; the file's size stays. */
    public void punch(long offset, long length) {
        Downcalls.checked("fallocate(PUNCH_HOLE)",
                c -> (int) FALLOCATE.invokeExact(c, fd.fd(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length));
    }

    /** The first offset at or after {@code offset} that holds data, or -1 if only a hole (or the end) follows. */
    public long nextData(long offset) { return seek(offset, SEEK_DATA, "lseek(SEEK_DATA)"); }

    /**
     * The first offset at or after {@code offset} that starts a hole; the file's size if data runs to its end
     * (there is an implicit hole there), -1 if {@code offset} is at or past the end.
     */
    public long nextHole(long offset) { return seek(offset, SEEK_HOLE, "lseek(SEEK_HOLE)"); }

    /** ENXIO, "no data (or hole) beyond offset", is an answer here, not a failure. */
    private long seek(long offset, int whence, String what) {
        MemorySegment captured = Downcalls.captureBuffer();
        long result;
        try {
            result = (long) LSEEK.invokeExact(captured, fd.fd(), offset, whence);
        } catch (Throwable t) {
            throw Downcalls.unchecked(t);
        }
        if (result >= 0) return result;
        int errno = Downcalls.errno(captured);
        if (errno == ENXIO) return -1;
        throw new ErrnoException(what, errno);
    }

    @Override
    public void close() { fd.close(); }
}
