package dev.flint.sys;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Deallocating ranges of a file ({@code fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)}): the range
 * reads back as zeroes and its blocks return to the file system, as a disk's discard asks. Its own
 * descriptor, opened read-write on the file, closed with it.
 */
public final class FileHoles implements AutoCloseable {
    private static final int FALLOC_FL_KEEP_SIZE = 0x01, FALLOC_FL_PUNCH_HOLE = 0x02;
    private static final MethodHandle FALLOCATE = Downcalls.withErrno("fallocate",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), -1);

    private final FileDescriptor fd;

    private FileHoles(FileDescriptor fd) { this.fd = fd; }

    /** Opens {@code path} read-write for punching holes. */
    public static FileHoles open(String path) {
        return new FileHoles(FileDescriptor.open(path, Libc.O_RDWR | Libc.O_CLOEXEC));
    }

    /** Deallocates {@code length} bytes at {@code offset}; the file's size stays. */
    public void punch(long offset, long length) {
        Downcalls.checked("fallocate(PUNCH_HOLE)",
                c -> (int) FALLOCATE.invokeExact(c, fd.fd(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length));
    }

    @Override
    public void close() { fd.close(); }
}
