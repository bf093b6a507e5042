package dev.flint.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * How every class in this package declares and calls a libc function. Calls that fail by returning -1 and
 * setting errno get errno captured by the linker right after the call: the JVM may run code between the
 * call and any later read that changes it. The capture buffer is per thread, since calls on different
 * threads (vCPUs, device pollers) must not share one.
 */
final class Downcalls {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option SAVE_ERRNO = Linker.Option.captureCallState("errno");
    private static final ThreadLocal<MemorySegment> CAPTURED = ThreadLocal.withInitial(Downcalls::newCaptureBuffer);

    private Downcalls() {}

    /** A call that gets the errno capture buffer as its first argument. */
    @FunctionalInterface
    interface ErrnoCall {
        long invoke(MemorySegment captured) throws Throwable;
    }

    /**
     * libc's {@code name} with errno captured: the handle takes the capture buffer first. {@code firstVariadic}
     * is the index of the first variadic parameter ({@code open}, {@code ioctl}, {@code syscall}), or -1; the
     * x86-64 ABI wants {@code %al} set for variadic calls, which only a variadic declaration does.
     */
    static MethodHandle withErrno(String name, FunctionDescriptor fd, int firstVariadic) {
        Linker.Option[] options = firstVariadic >= 0
                ? new Linker.Option[] {SAVE_ERRNO, Linker.Option.firstVariadicArg(firstVariadic)}
                : new Linker.Option[] {SAVE_ERRNO};
        return LINKER.downcallHandle(symbol(name), fd, options);
    }

    /** libc's {@code name} for calls that do not report through errno. */
    static MethodHandle plain(String name, FunctionDescriptor fd) {
        return LINKER.downcallHandle(symbol(name), fd);
    }

    private static MemorySegment symbol(String name) {
        return LINKER.defaultLookup().find(name).orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
    }

    /** A capture buffer of one's own, for a caller that keeps it (one waiting thread, say). */
    static MemorySegment newCaptureBuffer() {
        return Arena.ofAuto().allocate(CAPTURE);
    }

    /** This thread's capture buffer. */
    static MemorySegment captureBuffer() {
        return CAPTURED.get();
    }

    /** The errno a call left in {@code captured}. */
    static int errno(MemorySegment captured) {
        return (int) ERRNO.get(captured, 0L);
    }

    /** Runs a call that fails by returning -1: its result, or an {@link ErrnoException} naming {@code what}. */
    static long checked(String what, ErrnoCall call) {
        MemorySegment captured = CAPTURED.get();
        long result;
        try {
            result = call.invoke(captured);
        } catch (Throwable t) {
            throw unchecked(t);
        }
        if (result == -1) throw new ErrnoException(what, errno(captured));
        return result;
    }

    /** Downcalls declare Throwable; only runtime exceptions and errors can actually come out of them. */
    static RuntimeException unchecked(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }
}
