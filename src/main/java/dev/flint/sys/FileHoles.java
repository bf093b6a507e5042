package dev.flint.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

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
    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle FALLOCATE = LINKER.downcallHandle(
            LINKER.defaultLookup().find("fallocate").orElseThrow(() -> new UnsatisfiedLinkError("libc has no fallocate")),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), Linker.Option.captureCallState("errno"));
    private static final MethodHandle LSEEK = LINKER.downcallHandle(
            LINKER.defaultLookup().find("lseek").orElseThrow(() -> new UnsatisfiedLinkError("libc has no lseek")),
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT), Linker.Option.captureCallState("errno"));
    private static final int SEEK_DATA = 3, SEEK_HOLE = 4, ENXIO = 6;
    private static final ThreadLocal<MemorySegment> CAPTURED = ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE));

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

    /** The first offset at or after {@code offset} that holds data, or -1 if only a hole (or the end) follows. */
    public long nextData(long offset) { return seek(offset, SEEK_DATA, "lseek(SEEK_DATA)"); }

    /**
     * The first offset at or after {@code offset} that starts a hole; the file's size if data runs to its end
     * (there is an implicit hole there), -1 if {@code offset} is at or past the end.
     */
    public long nextHole(long offset) { return seek(offset, SEEK_HOLE, "lseek(SEEK_HOLE)"); }

    private long seek(long offset, int whence, String what) {
        MemorySegment captured = CAPTURED.get();
        long result;
        try {
            result = (long) LSEEK.invokeExact(captured, fd.fd(), offset, whence);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        if (result >= 0) return result;
        int errno = (int) ERRNO.get(captured, 0L);
        if (errno == ENXIO) return -1;
        throw new ErrnoException(what, errno);
    }

    /** Deallocates {@code length} bytes at {@code offset}; the file's size stays. */
    public void punch(long offset, long length) {
        MemorySegment captured = CAPTURED.get();
        int result;
        try {
            result = (int) FALLOCATE.invokeExact(captured, fd.fd(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        if (result == -1) throw new ErrnoException("fallocate(PUNCH_HOLE)", (int) ERRNO.get(captured, 0L));
    }

    @Override
    public void close() { fd.close(); }
}
