package dev.flint.sys;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Running a piece of code inside another network namespace. {@code setns(2)} changes the namespace of the
 * calling thread only, and a socket stays in the namespace it was created in: so a fresh platform thread
 * joins the namespace, runs the code (which opens its sockets there) and ends. The rest of the JVM is
 * untouched. Used where a server must listen inside a namespace that a test made with {@code ip netns}.
 */
public final class NetNamespaces {
    private static final int CLONE_NEWNET = 0x4000_0000;
    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle SETNS = LINKER.downcallHandle(
            LINKER.defaultLookup().find("setns").orElseThrow(() -> new UnsatisfiedLinkError("libc has no setns")),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), Linker.Option.captureCallState("errno"));

    private NetNamespaces() {}

    /**
     * Runs {@code action} on a new thread that joined the network namespace at {@code nsPath} (e.g.
     * {@code /var/run/netns/NAME}) and returns its result; its exception is rethrown here.
     */
    public static <T> T callIn(String nsPath, Callable<T> action) throws Exception {
        AtomicReference<T> result = new AtomicReference<>();
        AtomicReference<Exception> failure = new AtomicReference<>();
        Thread t = Thread.ofPlatform().name("flint-netns").start(() -> {
            try {
                join(nsPath);
                result.set(action.call());
            } catch (Exception e) {
                failure.set(e);
            }
        });
        t.join();
        if (failure.get() != null) throw failure.get();
        return result.get();
    }

    private static void join(String nsPath) {
        int fd = Libc.open(nsPath, Libc.O_RDONLY | Libc.O_CLOEXEC);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment captured = arena.allocate(CAPTURE);
            int rc;
            try {
                rc = (int) SETNS.invokeExact(captured, fd, CLONE_NEWNET);
            } catch (Throwable e) {
                throw new IllegalStateException(e);
            }
            if (rc == -1) throw new ErrnoException("setns " + nsPath, (int) ERRNO.get(captured, 0L));
        } finally {
            Libc.close(fd);
        }
    }
}
