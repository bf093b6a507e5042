package dev.flint.engine.emu.nativecode;

import dev.flint.sys.CodeMemory;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Locale;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import java.util.Optional;

/**
 * Where a native tier's translated code lives: one {@link CodeMemory} (a memfd mapped read+write for the
 * translator and read+execute to run, so that writing code costs no system call), filled by a bump allocator
 * in 16-byte aligned pieces, and emptied all at once when full (QEMU's way: no per-block free lists; whoever
 * holds offsets into the cache compares {@link #generation()} to know they are gone).
 *
 * <p>The code is x86-64, so the cache exists on x86-64 Linux only: {@link #unavailableReason()} says why not
 * elsewhere, and {@link #create} then throws; loading this class never fails on any host.
 *
 * <p>One writer: the vCPU thread that translates also installs and runs (a cache per vCPU, or the caller
 * serialises). Nothing here makes code from other threads visible; x86 keeps instruction fetches coherent
 * with stores to the same physical page, and the two views share pages, so code written through the
 * writable view runs as written the next time it is entered (the call and return serialise enough for
 * cross-modifying code on the same thread).
 */
public final class CodeCache implements AutoCloseable {
    /** Installed code starts at multiples of this: a fetch line's start, as compilers align jump targets. */
    public static final int ALIGNMENT = 16;
    /** The largest cache allowed: rel32 jumps reach ±2 GiB, and beyond tens of MiB the code stops fitting any host cache. */
    public static final long MAX_CAPACITY = 512L << 20;
    private static final long PAGE = 4096;
    /**
     * The first bytes hold the cache's own entry stub ({@link #enter}); flushes keep them, so code starts at
     * this offset.
     */
    public static final int FIRST_CODE = ALIGNMENT;
    private static final FunctionDescriptor ENTRY = FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG);

    private final CodeMemory memory;
    private final MemorySegment writable;
    private final long capacity;
    private long top;
    private long generation;
    private long flushes;
    private final MethodHandle enter;

    private CodeCache(CodeMemory memory) {
        this.memory = memory;
        this.writable = memory.writable();
        this.capacity = memory.size();
        // The entry stub: jmp rsi. enter(offset, arg) calls it as stub(arg, address): the code at address runs with
        // the caller's return address on the stack and arg in RDI, as if it had been called itself.
        X64Emitter stub = new X64Emitter();
        stub.jmpReg(X64Emitter.RSI);
        MemorySegment.copy(stub.bytes(), 0, writable, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, stub.position());
        this.top = FIRST_CODE;
        this.enter = Linker.nativeLinker().downcallHandle(MemorySegment.ofAddress(memory.executableAddress()), ENTRY);
    }

    /** Why this host cannot run a native tier's code, or empty when it can (x86-64 Linux). */
    public static Optional<String> unavailableReason() {
        return unavailableReason(System.getProperty("os.name", ""), System.getProperty("os.arch", ""));
    }

    /** The same for a named host ({@code os.name}, {@code os.arch} as the JVM spells them). */
    static Optional<String> unavailableReason(String osName, String osArch) {
        String os = osName.toLowerCase(Locale.ROOT);
        String arch = osArch.toLowerCase(Locale.ROOT);
        if (!os.startsWith("linux")) return Optional.of("native code cache: needs Linux (memfd), host OS is " + os);
        if (!arch.equals("amd64") && !arch.equals("x86_64")) {
            return Optional.of("native code cache: needs an x86-64 host, host architecture is " + arch);
        }
        return Optional.empty();
    }

    /**
     * A cache of {@code capacity} bytes (rounded up to whole pages, at most {@link #MAX_CAPACITY}).
     *
     * @throws UnsupportedOperationException on a host that cannot run it ({@link #unavailableReason()})
     */
    public static CodeCache create(long capacity) {
        Optional<String> why = unavailableReason();
        if (why.isPresent()) throw new UnsupportedOperationException(why.get());
        if (capacity <= 0 || capacity > MAX_CAPACITY) {
            throw new IllegalArgumentException("code cache of " + capacity + " bytes: must be 1.." + MAX_CAPACITY);
        }
        return new CodeCache(CodeMemory.create("flint-code", (capacity + PAGE - 1) & -PAGE));
    }

    public long capacity() { return capacity; }

    /** Bytes handed out since the last flush (alignment padding and the entry stub included). */
    public long used() { return top; }

    /** Counts the flushes: code installed in an earlier generation is gone. */
    public long generation() { return generation; }

    /** The address code at {@code offset} runs at (in the executable view). */
    public long address(long offset) {
        checkRange(offset, 1, top);
        return memory.executableAddress() + offset;
    }

    /**
     * Reserves {@code size} bytes at a 16-byte aligned offset and returns it; when the rest of the cache is too
     * small, first flushes everything (the generation goes up; all earlier offsets are free for reuse).
     *
     * @throws IllegalArgumentException if {@code size} exceeds the whole cache: no flush could make room
     */
    public long reserve(int size) {
        if (size <= 0) throw new IllegalArgumentException("code of " + size + " bytes");
        if (size > capacity - FIRST_CODE) {
            throw new IllegalArgumentException("code of " + size + " bytes does not fit a code cache of " + capacity
                    + " bytes (" + (capacity - FIRST_CODE) + " for code)");
        }
        long at = (top + ALIGNMENT - 1) & -ALIGNMENT;
        if (at + size > capacity) {
            flush();
            at = FIRST_CODE;
        }
        top = at + size;
        return at;
    }

    /** Forgets all code: the next reservation starts at {@link #FIRST_CODE} in a new generation. */
    public void flush() {
        top = FIRST_CODE;
        generation++;
        flushes++;
        // Old code stays in the pages until overwritten; whoever still entered it would run stale code, which is
        // why callers drop every offset (and handle) of an older generation.
    }

    public long flushes() { return flushes; }

    /**
     * Writes {@code code} at {@code offset}, inside reserved space: new code, or a patch of installed code (a
     * chained jump's rel32, say). The bytes run the next time the code is entered.
     */
    public void write(long offset, byte[] code) {
        checkRange(offset, code.length, top);
        MemorySegment.copy(code, 0, writable, java.lang.foreign.ValueLayout.JAVA_BYTE, offset, code.length);
    }

    /**
     * Installs what {@code e} emitted: reserves room (flushing if the cache is full), links its jumps into
     * the cache at that place and writes it. Returns the offset, or -1 when the reservation flushed the cache
     * and {@code e} jumps into code that was in it (the caller emits again, without those jumps).
     */
    public long install(X64Emitter e) {
        long before = generation;
        long at = reserve(e.position());
        if (generation != before && e.jumpTargets().length > 0) {
            top = FIRST_CODE; // nothing was written: give the room back
            return -1;
        }
        write(at, e.linkedAt(at));
        return at;
    }

    /**
     * Runs the code at {@code offset} as a C function {@code long f(long arg)} through the cache's one entry stub,
     * and returns its RAX: how a tier enters any block without a downcall handle per block (each handle spins
     * classes). A plain downcall (the thread is "in native" while the code runs: safepoints are not held up).
     *
     * @throws IndexOutOfBoundsException if {@code offset} is not inside code installed in this generation
     */
    public long enter(long offset, long arg) {
        if (offset < FIRST_CODE) throw new IndexOutOfBoundsException("offset " + offset + " is the cache's own entry stub");
        long address = address(offset);
        try {
            return (long) enter.invokeExact(arg, address);
        } catch (Throwable t) {
            if (t instanceof RuntimeException r) throw r;
            if (t instanceof Error e) throw e;
            throw new IllegalStateException(t);
        }
    }

    /**
     * A downcall handle that enters the code at {@code offset} as a C function of descriptor {@code fd}
     * (System V calling convention). A plain downcall: while the code runs the thread counts as in native code
     * and does not hold up the JVM's safepoints. Each handle spins classes, so a tier makes few of them (one
     * entry stub that jumps to a block given as an argument), not one per block.
     */
    public MethodHandle entry(long offset, FunctionDescriptor fd) {
        return Linker.nativeLinker().downcallHandle(MemorySegment.ofAddress(address(offset)), fd);
    }

    /** Unmaps the code; nothing may enter it afterwards. Idempotent. */
    @Override
    public void close() {
        memory.close();
    }

    private void checkRange(long offset, long length, long limit) {
        if (offset < 0 || length < 0 || offset > limit - length) {
            throw new IndexOutOfBoundsException("code range [" + offset + ", +" + length + ") outside the " + limit + " bytes in use");
        }
    }
}
