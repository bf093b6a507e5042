package dev.flint.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A Linux eventfd used as a counter of events between threads, or between KVM and a thread: writers add
 * to it ({@link #signal}), the reader takes the sum and resets it ({@link #drain}). Non-blocking, so a
 * reader waits for it with poll rather than in read. Closed exactly once.
 */
public final class EventFd implements AutoCloseable {
    /** An 8-byte buffer per thread: signal and drain run on hot paths (queue kicks, interrupts). */
    private static final ThreadLocal<MemorySegment> BUFFER = ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(8, 8));

    private final FileDescriptor fd;

    public EventFd() {
        fd = new FileDescriptor(Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK));
    }

    /** The descriptor number, for poll and for handing to the kernel (KVM_IOEVENTFD, KVM_IRQFD). */
    public int fd() { return fd.fd(); }

    /** Adds one event. */
    public void signal() {
        MemorySegment buf = BUFFER.get();
        buf.set(JAVA_LONG, 0, 1);
        Libc.write(fd.fd(), buf);
    }

    /** Takes and returns the events counted since the last drain; 0 if there were none. */
    public long drain() {
        MemorySegment buf = BUFFER.get();
        try {
            Libc.read(fd.fd(), buf);
            return buf.get(JAVA_LONG, 0);
        } catch (ErrnoException e) {
            if (e.errno() == Libc.EAGAIN) return 0;
            throw e;
        }
    }

    @Override
    public void close() { fd.close(); }
}
