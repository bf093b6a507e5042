package dev.flint.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * A Unix stream socket that can carry file descriptors ({@code SCM_RIGHTS}), which the JDK's channels
 * cannot: vhost-user hands memory and eventfds across with it. {@code struct msghdr} and
 * {@code struct cmsghdr} are described as layouts and reached through their var handles. Blocking;
 * one thread sends and one receives at a time.
 */
public final class UnixSocket implements AutoCloseable {
    private static final int SOCK_STREAM = 1, SOL_SOCKET = 1, SCM_RIGHTS = 1;
    private static final int MSG_CTRUNC = 0x8, MSG_NOSIGNAL = 0x4000, MSG_CMSG_CLOEXEC = 0x40000000;
    private static final int SHUT_RDWR = 2;
    /** {@code sockaddr_un.sun_path} holds 108 bytes, the terminating NUL included. */
    public static final int MAX_PATH_BYTES = 107;

    private static final StructLayout MSGHDR = MemoryLayout.structLayout(
            ADDRESS.withName("name"), JAVA_INT.withName("namelen"), MemoryLayout.paddingLayout(4),
            ADDRESS.withName("iov"), JAVA_LONG.withName("iovlen"),
            ADDRESS.withName("control"), JAVA_LONG.withName("controllen"),
            JAVA_INT.withName("flags"), MemoryLayout.paddingLayout(4));
    private static final VarHandle MSG_IOV = MSGHDR.varHandle(groupElement("iov"));
    private static final VarHandle MSG_IOVLEN = MSGHDR.varHandle(groupElement("iovlen"));
    private static final VarHandle MSG_CONTROL = MSGHDR.varHandle(groupElement("control"));
    private static final VarHandle MSG_CONTROLLEN = MSGHDR.varHandle(groupElement("controllen"));
    private static final VarHandle MSG_FLAGS = MSGHDR.varHandle(groupElement("flags"));
    private static final StructLayout IOVEC = MemoryLayout.structLayout(ADDRESS.withName("base"), JAVA_LONG.withName("len"));
    private static final VarHandle IOV_BASE = IOVEC.varHandle(groupElement("base"));
    private static final VarHandle IOV_LEN = IOVEC.varHandle(groupElement("len"));
    /** {@code struct cmsghdr}: the descriptors follow it. */
    private static final StructLayout CMSGHDR = MemoryLayout.structLayout(
            JAVA_LONG.withName("len"), JAVA_INT.withName("level"), JAVA_INT.withName("type"));
    private static final VarHandle CMSG_LEN = CMSGHDR.varHandle(groupElement("len"));
    private static final VarHandle CMSG_LEVEL = CMSGHDR.varHandle(groupElement("level"));
    private static final VarHandle CMSG_TYPE = CMSGHDR.varHandle(groupElement("type"));
    private static final StructLayout SOCKADDR_UN = MemoryLayout.structLayout(
            JAVA_SHORT.withName("family"), MemoryLayout.sequenceLayout(108, java.lang.foreign.ValueLayout.JAVA_BYTE).withName("path"));

    private static final MethodHandle SOCKET = call("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle BIND = call("bind", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle CONNECT = call("connect", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle LISTEN = call("listen", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle ACCEPT4 = call("accept4", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
    private static final MethodHandle SENDMSG = call("sendmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle RECVMSG = call("recvmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle SETSOCKOPT = call("setsockopt", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final int SO_RCVTIMEO = 20;
    private static final MethodHandle SHUTDOWN = call("shutdown", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));

    /** What one {@link #receive} got: bytes (0 at end of stream) and the descriptors that came with them. */
    public record Received(int bytes, List<FileDescriptor> fds) {}

    private final FileDescriptor fd;

    private UnixSocket(int fd) {
        this.fd = new FileDescriptor(fd);
    }

    private static MethodHandle call(String name, FunctionDescriptor fd) {
        return Downcalls.withErrno(name, fd, -1);
    }

    /** {@code arena} is the caller's, for what the call points at; errno goes to this thread's buffer. */
    private static long checked(String what, Arena arena, Downcalls.ErrnoCall call) {
        return Downcalls.checked(what, call);
    }

    private static MemorySegment address(Arena arena, Path path) {
        byte[] bytes = path.toString().getBytes(StandardCharsets.UTF_8);
        if (bytes.length == 0 || bytes.length > MAX_PATH_BYTES) {
            throw new IllegalArgumentException("a Unix socket path must be 1 to " + MAX_PATH_BYTES + " bytes: " + path);
        }
        MemorySegment sa = arena.allocate(SOCKADDR_UN);
        sa.set(JAVA_SHORT, 0, (short) Libc.AF_UNIX);
        MemorySegment.copy(bytes, 0, sa, java.lang.foreign.ValueLayout.JAVA_BYTE, 2, bytes.length);
        return sa;
    }

    private static int newSocket(Arena arena) {
        return (int) checked("socket", arena, e -> (int) SOCKET.invokeExact(e, Libc.AF_UNIX, SOCK_STREAM | Libc.SOCK_CLOEXEC, 0));
    }

    /** A socket listening at {@code path} (which must not exist yet). */
    public static UnixSocket listen(Path path) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sa = address(arena, path);
            UnixSocket s = new UnixSocket(newSocket(arena));
            try {
                checked("bind " + path, arena, e -> (int) BIND.invokeExact(e, s.fd.fd(), sa, (int) sa.byteSize()));
                checked("listen", arena, e -> (int) LISTEN.invokeExact(e, s.fd.fd(), 1));
                return s;
            } catch (RuntimeException e) {
                s.close();
                throw e;
            }
        }
    }

    /** A socket connected to the listener at {@code path}. */
    public static UnixSocket connect(Path path) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sa = address(arena, path);
            UnixSocket s = new UnixSocket(newSocket(arena));
            try {
                checked("connect " + path, arena, e -> (int) CONNECT.invokeExact(e, s.fd.fd(), sa, (int) sa.byteSize()));
                return s;
            } catch (RuntimeException e) {
                s.close();
                throw e;
            }
        }
    }

    /** Waits for and returns the next connection of a listening socket. */
    public UnixSocket accept() {
        try (Arena arena = Arena.ofConfined()) {
            int listener = fd.fd();
            return new UnixSocket((int) checked("accept", arena,
                    e -> (int) ACCEPT4.invokeExact(e, listener, MemorySegment.NULL, MemorySegment.NULL, Libc.SOCK_CLOEXEC)));
        }
    }

    public int fd() { return fd.fd(); }

    /** Makes {@link #receive} fail with EAGAIN after {@code millis} without data (0: wait forever). */
    public void setReceiveTimeout(long millis) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment timeval = arena.allocate(16, 8);
            timeval.set(JAVA_LONG, 0, millis / 1000);
            timeval.set(JAVA_LONG, 8, (millis % 1000) * 1000);
            int sock = fd.fd();
            checked("setsockopt", arena, e -> (int) SETSOCKOPT.invokeExact(e, sock, SOL_SOCKET, SO_RCVTIMEO, timeval, 16));
        }
    }

    /**
     * Sends all of {@code data}, with {@code fds} attached to its first byte (the peer gets them with the
     * message they belong to). A peer that went away is an {@link ErrnoException} (EPIPE), never a signal.
     */
    public void send(byte[] data, int... fds) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(Math.max(1, data.length));
            MemorySegment.copy(data, 0, buf, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, data.length);
            MemorySegment msg = arena.allocate(MSGHDR);
            MemorySegment iov = arena.allocate(IOVEC);
            MSG_IOV.set(msg, 0L, iov);
            MSG_IOVLEN.set(msg, 0L, 1L);
            if (fds.length > 0) {
                long space = CMSGHDR.byteSize() + ((4L * fds.length + 7) & ~7L);
                MemorySegment control = arena.allocate(space, 8);
                CMSG_LEN.set(control, 0L, CMSGHDR.byteSize() + 4L * fds.length);
                CMSG_LEVEL.set(control, 0L, SOL_SOCKET);
                CMSG_TYPE.set(control, 0L, SCM_RIGHTS);
                for (int i = 0; i < fds.length; i++) control.set(JAVA_INT, CMSGHDR.byteSize() + 4L * i, fds[i]);
                MSG_CONTROL.set(msg, 0L, control);
                MSG_CONTROLLEN.set(msg, 0L, space);
            }
            int sock = fd.fd();
            long sent = 0;
            while (sent < data.length || (sent == 0 && data.length == 0)) {
                IOV_BASE.set(iov, 0L, buf.asSlice(sent));
                IOV_LEN.set(iov, 0L, data.length - sent);
                long n = checked("sendmsg", arena, e -> (long) SENDMSG.invokeExact(e, sock, msg, MSG_NOSIGNAL));
                sent += n;
                MSG_CONTROL.set(msg, 0L, MemorySegment.NULL); // descriptors go with the first part only
                MSG_CONTROLLEN.set(msg, 0L, 0L);
                if (data.length == 0) break;
            }
        }
    }

    /**
     * Reads up to {@code into.byteSize()} bytes and any descriptors sent with them (at most {@code maxFds};
     * more are closed and reported as an error). The descriptors are the caller's to close.
     */
    public Received receive(MemorySegment into, int maxFds) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment msg = arena.allocate(MSGHDR);
            MemorySegment iov = arena.allocate(IOVEC);
            IOV_BASE.set(iov, 0L, into);
            IOV_LEN.set(iov, 0L, into.byteSize());
            MSG_IOV.set(msg, 0L, iov);
            MSG_IOVLEN.set(msg, 0L, 1L);
            long space = CMSGHDR.byteSize() + ((4L * maxFds + 7) & ~7L);
            MemorySegment control = arena.allocate(space, 8);
            MSG_CONTROL.set(msg, 0L, control);
            MSG_CONTROLLEN.set(msg, 0L, space);
            int sock = fd.fd();
            long n = checked("recvmsg", arena, e -> (long) RECVMSG.invokeExact(e, sock, msg, MSG_CMSG_CLOEXEC));
            List<FileDescriptor> fds = new ArrayList<>();
            long controlLength = (long) MSG_CONTROLLEN.get(msg, 0L);
            if (controlLength >= CMSGHDR.byteSize() && (int) CMSG_LEVEL.get(control, 0L) == SOL_SOCKET
                    && (int) CMSG_TYPE.get(control, 0L) == SCM_RIGHTS) {
                long length = Math.min((long) CMSG_LEN.get(control, 0L), controlLength);
                for (long at = CMSGHDR.byteSize(); at + 4 <= length; at += 4) fds.add(new FileDescriptor(control.get(JAVA_INT, at)));
            }
            if (((int) MSG_FLAGS.get(msg, 0L) & MSG_CTRUNC) != 0) {
                fds.forEach(FileDescriptor::close);
                throw new IllegalStateException("the peer sent more than " + maxFds + " file descriptors with one message");
            }
            return new Received((int) n, fds);
        }
    }

    /** Ends both directions: a thread blocked on this socket wakes up at end of stream. */
    public void shutdown() {
        try (Arena arena = Arena.ofConfined()) {
            int sock = fd.fd();
            checked("shutdown", arena, e -> (int) SHUTDOWN.invokeExact(e, sock, SHUT_RDWR));
        } catch (ErrnoException | IllegalStateException ignored) {
            // already disconnected or closed
        }
    }

    @Override
    public void close() { fd.close(); }
}
