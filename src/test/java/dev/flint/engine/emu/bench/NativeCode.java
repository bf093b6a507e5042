package dev.flint.engine.emu.bench;

import dev.flint.sys.Libc;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Machine code in an anonymous mapping of its own: written while the mapping is read-write, then made
 * read+execute (never both writable and executable, as a W^X policy wants), and entered by an FFM downcall.
 * For {@link NativeTierSpike} only.
 */
final class NativeCode implements AutoCloseable {
    private static final int PROT_EXEC = 4;
    private static final MethodHandle MPROTECT = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("mprotect").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));

    private final long address;
    private final long length;

    NativeCode(byte[] code) {
        length = (code.length + 4095) & ~4095L;
        address = Libc.mmap(length, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS, -1, 0);
        MemorySegment.ofAddress(address).reinterpret(length).copyFrom(MemorySegment.ofArray(code));
        try {
            int rc = (int) MPROTECT.invokeExact(address, length, Libc.PROT_READ | PROT_EXEC);
            if (rc != 0) throw new IllegalStateException("mprotect failed");
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /**
     * Writes {@code code} at {@code offset} as a W^X code cache would: the page made RW, written, made RX again
     * (two mprotect calls; the JVM's own code cache is RWX and pays none).
     */
    void patch(long offset, byte[] code) {
        long page = (address + offset) & ~4095L;
        long span = ((address + offset + code.length + 4095) & ~4095L) - page;
        try {
            if ((int) MPROTECT.invokeExact(page, span, Libc.PROT_READ | Libc.PROT_WRITE) != 0) throw new IllegalStateException();
            MemorySegment.ofAddress(address + offset).reinterpret(code.length).copyFrom(MemorySegment.ofArray(code));
            if ((int) MPROTECT.invokeExact(page, span, Libc.PROT_READ | PROT_EXEC) != 0) throw new IllegalStateException();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    long address() { return address; }

    /** A downcall handle entering the code at {@code offset}. */
    MethodHandle entry(long offset, FunctionDescriptor fd, Linker.Option... options) {
        return Linker.nativeLinker().downcallHandle(MemorySegment.ofAddress(address + offset), fd, options);
    }

    @Override
    public void close() {
        Libc.munmap(address, length);
    }
}
