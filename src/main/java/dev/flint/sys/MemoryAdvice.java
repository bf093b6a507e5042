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
 * Giving pages of a mapping back to the host kernel ({@code madvise}): the physical pages are freed and
 * the range reads back as zeroes (a private anonymous mapping) the next time it is touched. A balloon
 * device does this for the pages a guest handed over.
 */
public final class MemoryAdvice {
    /** Private mappings: drop the pages; anonymous memory refaults as zeroes, a private file mapping as the file. */
    public static final int MADV_DONTNEED = 4;
    /** Shared mappings: free the backing store too (DONTNEED would only unmap it from this process). */
    public static final int MADV_REMOVE = 9;
    /** Not inherited by a forked child; also gives the range a mapping (VMA) of its own, unmerged with neighbours. */
    public static final int MADV_DONTFORK = 10;
    /**
     * Back the range with transparent huge pages (2 MiB on x86-64) where the host's THP mode is {@code madvise}
     * or {@code always}; a no-op under {@code never}. Fails with EINVAL on a kernel without THP.
     */
    public static final int MADV_HUGEPAGE = 14;
    public static final long PAGE_SIZE = 4096;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle MADVISE = LINKER.downcallHandle(
            LINKER.defaultLookup().find("madvise").orElseThrow(() -> new UnsatisfiedLinkError("libc has no madvise")),
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT), Linker.Option.captureCallState("errno"));
    private static final ThreadLocal<MemorySegment> CAPTURED = ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE));

    private MemoryAdvice() {}

    /**
     * {@code madvise(address, length, advice)}. The caller guarantees the range lies inside a mapping it
     * owns; both must be page-aligned.
     */
    public static void advise(long address, long length, int advice) {
        if ((address & (PAGE_SIZE - 1)) != 0 || (length & (PAGE_SIZE - 1)) != 0 || length <= 0) {
            throw new IllegalArgumentException(String.format("madvise of %d bytes at 0x%x: not whole pages", length, address));
        }
        MemorySegment captured = CAPTURED.get();
        int result;
        try {
            result = (int) MADVISE.invokeExact(captured, address, length, advice);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        if (result == -1) throw new ErrnoException("madvise(" + advice + ")", (int) ERRNO.get(captured, 0L));
    }
}
