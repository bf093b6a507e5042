package dev.flint.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The few libc calls Flint needs, as FFM downcalls (no JNI). Calls that report failure through
 * {@code errno} capture it right after the call (the JVM may clobber errno before Java code could read
 * it) and throw {@link ErrnoException}; callers that expect a particular errno (EINTR from KVM_RUN,
 * EAGAIN from a non-blocking read) catch it and look at {@link ErrnoException#errno()}.
 *
 * <p>Variadic C functions ({@code open}, {@code ioctl}) must be declared with
 * {@link Linker.Option#firstVariadicArg}: the x86-64 ABI passes the number of vector registers used in
 * {@code %al} for variadic calls, and a non-variadic declaration leaves garbage there.
 */
public final class Libc {
    public static final int O_RDONLY = 0, O_RDWR = 2, O_CLOEXEC = 0x80000, O_NONBLOCK = 0x800;
    public static final int PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
    public static final int MAP_SHARED = 0x01, MAP_PRIVATE = 0x02, MAP_ANONYMOUS = 0x20, MAP_NORESERVE = 0x4000;
    public static final int EFD_CLOEXEC = 0x80000, EFD_NONBLOCK = 0x800;
    public static final int SIG_BLOCK = 0, SIG_UNBLOCK = 1;
    public static final int EPERM = 1, ENOENT = 2, EINTR = 4, EAGAIN = 11, EACCES = 13, EEXIST = 17,
            EINVAL = 22, E2BIG = 7, EBUSY = 16, EIO = 5;
    public static final short POLLIN = 0x1, POLLERR = 0x8, POLLHUP = 0x10, POLLNVAL = 0x20;
    public static final int AF_UNIX = 1, SOCK_SEQPACKET = 5, SOCK_CLOEXEC = 0x80000, SOCK_NONBLOCK = 0x800;
    /** {@code struct pollfd}: int fd, short events, short revents. */
    public static final long POLLFD_BYTES = 8;
    /** {@code struct iovec}: void *base, size_t length. */
    public static final long IOVEC_BYTES = 16;
    /** glibc's {@code sigset_t} is 1024 bits; the kernel only looks at the first 64. */
    public static final long SIGSET_BYTES = 128;

    // Each call is bound on first use, in a holder class of its own: binding spins classes (FFM's downcall
    // stubs and method handle forms), seconds on a software CPU (kvm nested under TCG), and a boot needs only
    // some of these calls. A holder's static final handle is still a constant to the JIT.
    private static final class Open { static final MethodHandle CALL = errnoCall("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), 2); }
    private static final class Close { static final MethodHandle CALL = errnoCall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT), -1); }
    private static final class Ioctl { static final MethodHandle CALL = errnoCall("ioctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), 2); }
    private static final class Mmap { static final MethodHandle CALL = errnoCall("mmap", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG), -1); }
    private static final class Munmap { static final MethodHandle CALL = errnoCall("munmap", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG), -1); }
    private static final class Eventfd { static final MethodHandle CALL = errnoCall("eventfd", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), -1); }
    private static final class Read { static final MethodHandle CALL = errnoCall("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), -1); }
    private static final class Write { static final MethodHandle CALL = errnoCall("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), -1); }
    private static final class Writev { static final MethodHandle CALL = errnoCall("writev", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT), -1); }
    private static final class Poll { static final MethodHandle CALL = errnoCall("poll", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), -1); }
    private static final class Socketpair { static final MethodHandle CALL = errnoCall("socketpair", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS), -1); }
    private static final class Tgkill { static final MethodHandle CALL = errnoCall("tgkill", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), -1); }
    private static final class Sigtimedwait { static final MethodHandle CALL = errnoCall("sigtimedwait", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS), -1); }
    private static final class Gettid { static final MethodHandle CALL = plainCall("gettid", FunctionDescriptor.of(JAVA_INT)); }
    private static final class Getpid { static final MethodHandle CALL = plainCall("getpid", FunctionDescriptor.of(JAVA_INT)); }
    private static final class Sigrtmin { static final MethodHandle CALL = plainCall("__libc_current_sigrtmin", FunctionDescriptor.of(JAVA_INT)); }
    /** Returns the error number itself (pthread convention), not -1 + errno. */
    private static final class PthreadSigmask { static final MethodHandle CALL = plainCall("pthread_sigmask", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS)); }
    private static final class Strerror { static final MethodHandle CALL = plainCall("strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT)); }

    private Libc() {}

    private static MethodHandle errnoCall(String name, FunctionDescriptor fd, int firstVariadic) {
        return Downcalls.withErrno(name, fd, firstVariadic);
    }

    private static MethodHandle plainCall(String name, FunctionDescriptor fd) {
        return Downcalls.plain(name, fd);
    }

    private static int errno(MemorySegment captured) {
        return Downcalls.errno(captured);
    }

    /** A downcall without errno. */
    @FunctionalInterface
    private interface PlainCall {
        long invoke() throws Throwable;
    }

    private static long checked(String what, Downcalls.ErrnoCall call) {
        return Downcalls.checked(what, call);
    }

    private static long plain(PlainCall call) {
        try {
            return call.invoke();
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    private static RuntimeException unchecked(Throwable t) {
        return Downcalls.unchecked(t);
    }

    public static int open(String path, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cPath = arena.allocateFrom(path);
            return (int) checked("open " + path, c -> (int) Open.CALL.invokeExact(c, cPath, flags, 0));
        }
    }

    /** Creates or truncates {@code path} for writing, with permission bits {@code mode} if it is new. */
    public static int openForWrite(String path, int mode) {
        int flags = 0x1 /* O_WRONLY */ | 0x40 /* O_CREAT */ | 0x200 /* O_TRUNC */ | O_CLOEXEC;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cPath = arena.allocateFrom(path);
            return (int) checked("open " + path, c -> (int) Open.CALL.invokeExact(c, cPath, flags, mode));
        }
    }

    public static void close(int fd) {
        checked("close", c -> (int) Close.CALL.invokeExact(c, fd));
    }

    /** {@code ioctl(fd, request, arg)}; {@code arg} is an integer or a native address. */
    public static int ioctl(int fd, long request, long arg) {
        try {
            return (int) checked("ioctl", c -> (int) Ioctl.CALL.invokeExact(c, fd, request, arg));
        } catch (ErrnoException e) {
            // Named with the request only on failure: KVM_RUN goes through here on every exit.
            throw new ErrnoException(String.format("ioctl 0x%x", request), e.errno());
        }
    }

    public static int ioctl(int fd, long request, MemorySegment arg) {
        return ioctl(fd, request, arg.address());
    }

    /** Maps {@code length} bytes of {@code fd} (or anonymous memory when fd is -1); returns the address. */
    public static long mmap(long length, int prot, int flags, int fd, long offset) {
        return checked("mmap", c -> (long) Mmap.CALL.invokeExact(c, 0L, length, prot, flags, fd, offset));
    }

    public static void munmap(long address, long length) {
        checked("munmap", c -> (int) Munmap.CALL.invokeExact(c, address, length));
    }

    public static int eventfd(int initial, int flags) {
        return (int) checked("eventfd", c -> (int) Eventfd.CALL.invokeExact(c, initial, flags));
    }

    public static long read(int fd, MemorySegment buf) {
        return checked("read", c -> (long) Read.CALL.invokeExact(c, fd, buf, buf.byteSize()));
    }

    public static long write(int fd, MemorySegment buf) {
        return checked("write", c -> (long) Write.CALL.invokeExact(c, fd, buf, buf.byteSize()));
    }

    /**
     * {@code writev(fd, iov, count)}: {@code iov} holds {@code count} {@link #IOVEC_BYTES}-byte entries
     * whose addresses the caller took from segments it bounds-checked (guest RAM slices, say).
     */
    public static long writev(int fd, MemorySegment iov, int count) {
        if (iov.byteSize() < count * IOVEC_BYTES) throw new IllegalArgumentException("iovec array too small");
        return checked("writev", c -> (long) Writev.CALL.invokeExact(c, fd, iov, count));
    }

    /**
     * {@code poll(fds, count, timeoutMillis)} over {@link #POLLFD_BYTES}-byte entries; returns how many have
     * events. EINTR is returned as 0 (the caller loops anyway). A negative timeout waits forever.
     */
    public static int poll(MemorySegment fds, int count, int timeoutMillis) {
        if (fds.byteSize() < count * POLLFD_BYTES) throw new IllegalArgumentException("pollfd array too small");
        try {
            return (int) checked("poll", c -> (int) Poll.CALL.invokeExact(c, fds, (long) count, timeoutMillis));
        } catch (ErrnoException e) {
            if (e.errno() == EINTR) return 0;
            throw e;
        }
    }

    /** {@code socketpair(domain, type, 0)}: the two connected descriptors. */
    public static int[] socketpair(int domain, int type) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sv = arena.allocate(8, 4);
            checked("socketpair", c -> (int) Socketpair.CALL.invokeExact(c, domain, type, 0, sv));
            return new int[] {sv.get(JAVA_INT, 0), sv.get(JAVA_INT, 4)};
        }
    }

    /** The kernel thread id of the calling thread (what {@link #tgkill} targets). */
    public static int gettid() {
        return (int) plain(() -> (int) Gettid.CALL.invokeExact());
    }

    public static int getpid() {
        return (int) plain(() -> (int) Getpid.CALL.invokeExact());
    }

    /** Sends {@code signal} to one thread of this process. */
    public static void tgkill(int tid, int signal) {
        int pid = getpid();
        checked("tgkill", c -> (int) Tgkill.CALL.invokeExact(c, pid, tid, signal));
    }

    /** The first real-time signal glibc leaves to applications (glibc keeps a few for itself). */
    public static int sigrtmin() {
        return (int) plain(() -> (int) Sigrtmin.CALL.invokeExact());
    }

    /** A zeroed glibc {@code sigset_t} holding the given signals. */
    public static MemorySegment sigset(Arena arena, int... signals) {
        MemorySegment set = arena.allocate(SIGSET_BYTES, 8);
        for (int sig : signals) {
            long word = set.get(JAVA_LONG, ((sig - 1) / 64) * 8L);
            set.set(JAVA_LONG, ((sig - 1) / 64) * 8L, word | (1L << ((sig - 1) % 64)));
        }
        return set;
    }

    /** Changes the calling thread's signal mask; {@code old} may be {@link MemorySegment#NULL}. */
    public static void pthreadSigmask(int how, MemorySegment set, MemorySegment old) {
        // pthread functions return the error number instead of setting errno.
        int err = (int) plain(() -> (int) PthreadSigmask.CALL.invokeExact(how, set, old));
        if (err != 0) throw new ErrnoException("pthread_sigmask", err);
    }

    /**
     * Takes one pending signal of {@code set} off the calling thread without waiting; returns it, or -1
     * if none was pending.
     */
    public static int takePendingSignal(MemorySegment set) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment zeroTimeout = arena.allocate(16, 8);
            return (int) checked("sigtimedwait", c -> (int) Sigtimedwait.CALL.invokeExact(c, set, MemorySegment.NULL, zeroTimeout));
        } catch (ErrnoException e) {
            if (e.errno() == EAGAIN || e.errno() == EINTR) return -1;
            throw e;
        }
    }

    /** The C library's text for an error number. */
    public static String strerror(int errno) {
        try {
            MemorySegment s = (MemorySegment) Strerror.CALL.invokeExact(errno);
            return s.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }

    /** Reads a little-endian value of {@code size} bytes (1, 2, 4, 8) from a native segment. */
    public static long getSized(MemorySegment seg, long offset, int size) {
        return switch (size) {
            case 1 -> seg.get(ValueLayout.JAVA_BYTE, offset) & 0xFFL;
            case 2 -> seg.get(ValueLayout.JAVA_SHORT_UNALIGNED, offset) & 0xFFFFL;
            case 4 -> seg.get(ValueLayout.JAVA_INT_UNALIGNED, offset) & 0xFFFF_FFFFL;
            case 8 -> seg.get(ValueLayout.JAVA_LONG_UNALIGNED, offset);
            default -> throw new IllegalArgumentException("access size " + size);
        };
    }

    /** Writes the low {@code size} bytes (1, 2, 4, 8) of {@code value} little-endian into a native segment. */
    public static void setSized(MemorySegment seg, long offset, int size, long value) {
        switch (size) {
            case 1 -> seg.set(ValueLayout.JAVA_BYTE, offset, (byte) value);
            case 2 -> seg.set(ValueLayout.JAVA_SHORT_UNALIGNED, offset, (short) value);
            case 4 -> seg.set(ValueLayout.JAVA_INT_UNALIGNED, offset, (int) value);
            case 8 -> seg.set(ValueLayout.JAVA_LONG_UNALIGNED, offset, value);
            default -> throw new IllegalArgumentException("access size " + size);
        }
    }
}
