package dev.flint.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * An epoll instance, typed: a device's I/O thread registers each of its sources (queue eventfds, a TAP,
 * a socket) with what it waits for and a token of its own, then sleeps in {@link #await} until one is
 * ready and gets back which. {@code struct epoll_event} is described once as a layout (packed on x86-64:
 * a 32-bit mask then the 64-bit data) and read through its var handles, never by raw offsets.
 * Registration may happen from any thread; {@link #await} belongs to the one thread that waits.
 */
public final class Epoll implements AutoCloseable {
    /** What a registration waits for. */
    public enum Interest { READABLE, WRITABLE }

    /** One ready source: its token and what it is ready for (hang-up and error are always reported). */
    public record Ready(long token, boolean readable, boolean writable, boolean hangUp, boolean error) {}

    private static final int EPOLLIN = 0x001, EPOLLOUT = 0x004, EPOLLERR = 0x008, EPOLLHUP = 0x010;
    private static final int EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2, EPOLL_CTL_MOD = 3, EPOLL_CLOEXEC = 0x80000;
    /** struct epoll_event, packed as the x86-64 kernel ABI has it (12 bytes). */
    static final StructLayout EVENT = MemoryLayout.structLayout(
            JAVA_INT_UNALIGNED.withName("events"), JAVA_LONG_UNALIGNED.withName("data"));
    private static final VarHandle EVENTS = EVENT.varHandle(MemoryLayout.PathElement.groupElement("events"));
    private static final VarHandle DATA = EVENT.varHandle(MemoryLayout.PathElement.groupElement("data"));

    private static final MethodHandle CREATE = call("epoll_create1", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle CTL = call("epoll_ctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle WAIT = call("epoll_wait", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));

    private final FileDescriptor epfd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment events;
    private final int capacity;
    private final MemorySegment captured = Downcalls.newCaptureBuffer();

    /** An instance that reports at most {@code capacity} ready sources per {@link #await}. */
    public Epoll(int capacity) {
        if (capacity < 1) throw new IllegalArgumentException("capacity must be at least 1");
        this.capacity = capacity;
        this.events = arena.allocate(EVENT, capacity);
        this.epfd = new FileDescriptor((int) Downcalls.checked("epoll_create1", e -> (int) CREATE.invokeExact(e, EPOLL_CLOEXEC)));
    }

    private static MethodHandle call(String name, FunctionDescriptor fd) {
        return Downcalls.withErrno(name, fd, -1);
    }

    /** Starts watching {@code fd} for {@code interests}; {@link #await} reports it with {@code token}. */
    public void add(int fd, Set<Interest> interests, long token) {
        control(EPOLL_CTL_ADD, fd, interests, token);
    }

    /** Changes what {@code fd} is watched for, and its token. */
    public void modify(int fd, Set<Interest> interests, long token) {
        control(EPOLL_CTL_MOD, fd, interests, token);
    }

    /** Stops watching {@code fd}. */
    public void remove(int fd) {
        control(EPOLL_CTL_DEL, fd, Set.of(), 0);
    }

    private void control(int op, int fd, Set<Interest> interests, long token) {
        int mask = (interests.contains(Interest.READABLE) ? EPOLLIN : 0) | (interests.contains(Interest.WRITABLE) ? EPOLLOUT : 0);
        try (Arena call = Arena.ofConfined()) {
            MemorySegment event = call.allocate(EVENT);
            EVENTS.set(event, 0L, mask);
            DATA.set(event, 0L, token);
            Downcalls.checked("epoll_ctl", e -> (int) CTL.invokeExact(e, epfd.fd(), op, fd, event));
        }
    }

    /**
     * Sleeps until at least one source is ready or {@code timeoutMillis} passes (-1: no limit); returns the
     * ready ones (empty on timeout or when a signal interrupted the wait). Only the waiting thread calls this.
     */
    public List<Ready> await(int timeoutMillis) {
        int n;
        try {
            n = (int) WAIT.invokeExact(captured, epfd.fd(), events, capacity, timeoutMillis);
        } catch (Throwable t) {
            throw t instanceof RuntimeException r ? r : new IllegalStateException(t);
        }
        if (n == -1) {
            int errno = Downcalls.errno(captured);
            if (errno == Libc.EINTR) return List.of();
            throw new ErrnoException("epoll_wait", errno);
        }
        List<Ready> ready = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            MemorySegment e = events.asSlice(i * EVENT.byteSize(), EVENT.byteSize());
            int mask = (int) EVENTS.get(e, 0L);
            ready.add(new Ready((long) DATA.get(e, 0L), (mask & EPOLLIN) != 0, (mask & EPOLLOUT) != 0,
                    (mask & EPOLLHUP) != 0, (mask & EPOLLERR) != 0));
        }
        return ready;
    }

    @Override
    public void close() {
        epfd.close();
        arena.close();
    }
}
