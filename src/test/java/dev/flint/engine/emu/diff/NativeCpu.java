package dev.flint.engine.emu.diff;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Runs sequences on the host CPU. Maps the {@link Layout} at its fixed addresses with
 * MAP_FIXED_NOREPLACE (so it never clobbers a JVM mapping), writes the harness into the RWX code pages
 * and calls the prologue through a downcall handle.
 *
 * <p>A wrong sequence crashes the process, which is why only {@link NativeCpuServer} (a child JVM) uses
 * this class.
 */
final class NativeCpu {
    private static final int PROT_RW = 1 | 2, PROT_RWX = 1 | 2 | 4;
    private static final int MAP_PRIVATE = 0x02, MAP_ANONYMOUS = 0x20, MAP_FIXED_NOREPLACE = 0x100000;

    private final Layout layout;
    private final MemorySegment sequencePage, prologuePage, state, data;
    private final MethodHandle entry;

    private NativeCpu(Layout layout) throws Throwable {
        this.layout = layout;
        Linker linker = Linker.nativeLinker();
        SymbolLookup libc = linker.defaultLookup();
        MethodHandle mmap = linker.downcallHandle(libc.find("mmap").orElseThrow(), FunctionDescriptor.of(
                ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
        MemorySegment code = map(mmap, layout.sequenceStart(), 2 * Layout.PAGE, PROT_RWX);
        sequencePage = code.asSlice(0, Layout.PAGE);
        prologuePage = code.asSlice(Layout.PAGE, Layout.PAGE);
        state = map(mmap, layout.state(), Layout.PAGE, PROT_RW);
        data = map(mmap, layout.data(), Layout.DATA_SIZE, PROT_RW);
        map(mmap, layout.stackTop() - Layout.STACK_AREA, Layout.STACK_AREA, PROT_RW);
        entry = linker.downcallHandle(MemorySegment.ofAddress(layout.prologue()), FunctionDescriptor.ofVoid());
    }

    private static MemorySegment map(MethodHandle mmap, long address, long size, int prot) throws Throwable {
        long got = (long) mmap.invokeExact(address, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0L);
        if (got != address) {
            throw new IllegalStateException(String.format(
                    "cannot map 0x%x bytes at 0x%x (got 0x%x): the range is taken in this process", size, address, got));
        }
        return MemorySegment.ofAddress(address).reinterpret(size, Arena.global(), null);
    }

    static NativeCpu map(Layout layout) throws Throwable {
        return new NativeCpu(layout);
    }

    /** Runs {@code sequence} from {@code in}; returns the state it leaves. */
    CpuState run(byte[] sequence, CpuState in) throws Throwable {
        NativeHarness.Code code = NativeHarness.build(layout, sequence);
        load(sequencePage, code.sequencePage());
        load(prologuePage, code.prologuePage());
        for (int i = 0; i < 16; i++) {
            state.set(ValueLayout.JAVA_LONG_UNALIGNED, NativeHarness.IN_GPR + 8L * i, in.gpr[i]);
        }
        state.set(ValueLayout.JAVA_LONG_UNALIGNED, NativeHarness.IN_FLAGS, in.rflags);
        state.set(ValueLayout.JAVA_INT_UNALIGNED, NativeHarness.IN_MXCSR, in.mxcsr);
        for (int i = 0; i < 32; i++) {
            state.set(ValueLayout.JAVA_LONG_UNALIGNED, NativeHarness.IN_XMM + 8L * i, in.xmm[i]);
        }
        MemorySegment.copy(in.data, 0, data, ValueLayout.JAVA_BYTE, 0, Layout.DATA_SIZE);

        entry.invokeExact();

        CpuState out = new CpuState();
        for (int i = 0; i < 16; i++) {
            out.gpr[i] = state.get(ValueLayout.JAVA_LONG_UNALIGNED, NativeHarness.OUT_GPR + 8L * i);
        }
        out.rflags = state.get(ValueLayout.JAVA_LONG_UNALIGNED, NativeHarness.OUT_FLAGS);
        out.mxcsr = state.get(ValueLayout.JAVA_INT_UNALIGNED, NativeHarness.OUT_MXCSR);
        for (int i = 0; i < 32; i++) {
            out.xmm[i] = state.get(ValueLayout.JAVA_LONG_UNALIGNED, NativeHarness.OUT_XMM + 8L * i);
        }
        MemorySegment.copy(data, ValueLayout.JAVA_BYTE, 0, out.data, 0, Layout.DATA_SIZE);
        return out;
    }

    /** Fills a code page with INT3 and copies the code in, so a stray jump traps instead of sliding. */
    private static void load(MemorySegment page, byte[] code) {
        page.fill((byte) 0xCC);
        MemorySegment.copy(code, 0, page, ValueLayout.JAVA_BYTE, 0, code.length);
    }
}
