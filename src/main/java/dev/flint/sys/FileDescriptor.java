package dev.flint.sys;

/**
 * An owned native file descriptor that is closed exactly once. Engines and devices hold these rather
 * than bare ints so a teardown path cannot leak or double-close one.
 */
public final class FileDescriptor implements AutoCloseable {
    private final int fd;
    private boolean closed;

    public FileDescriptor(int fd) { this.fd = fd; }

    public static FileDescriptor open(String path, int flags) { return new FileDescriptor(Libc.open(path, flags)); }

    public int fd() {
        if (closed) throw new IllegalStateException("fd " + fd + " already closed");
        return fd;
    }

    public int ioctl(long request, long arg) { return Libc.ioctl(fd(), request, arg); }

    public int ioctl(long request, java.lang.foreign.MemorySegment arg) { return Libc.ioctl(fd(), request, arg); }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        Libc.close(fd);
    }
}
