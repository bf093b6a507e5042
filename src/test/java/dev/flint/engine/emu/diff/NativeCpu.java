package dev.flint.engine.emu.diff;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Runs sequences on the host CPU. Maps the {@link Layout} at a fixed address with
 * MAP_FIXED_NOREPLACE (so it never clobbers a JVM mapping), writes the harness into the RWX code page
 * and calls it through a downcall handle.
 *
 * <p>A wrong sequence crashes the process, which is why only {@link NativeCpuServer} (a child JVM) uses
 * this class.
 */
final class NativeCpu {
    private static final int PROT_RWX = 1 | 2 | 4, PROT_RW = 1 | 2;
    private static final int MAP_PRIVATE = 0x02, MAP_ANONYMOUS = 0x20, MAP_FIXED_NOREPLACE = 0x100000;
    /** Candidate bases, all low enough for a small guest RAM on the emu side. */
    static final long[] CANDIDATE_BASES = {0x0040_0000L, 0x0080_0000L, 0x0100_0000L, 0x0200_0000L, 0x0300_0000L};

    private final Layout layout;
    private final MemorySegment mapping;
    private final MethodHandle entry;

    private NativeCpu(Layout layout, MemorySegment mapping) {
        this.layout = layout;
        this.mapping = mapping;
        this.entry = Linker.nativeLinker().downcallHandle(
                MemorySegment.ofAddress(layout.code()), FunctionDescriptor.ofVoid());
    }

    static NativeCpu map() throws Throwable {
        Linker linker = Linker.nativeLinker();
        SymbolLookup libc = linker.defaultLookup();
        MethodHandle mmap = linker.downcallHandle(libc.find("mmap").orElseThrow(), FunctionDescriptor.of(
                ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
        MethodHandle mprotect = linker.downcallHandle(libc.find("mprotect").orElseThrow(), FunctionDescriptor.of(
                ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
        for (long base : CANDIDATE_BASES) {
            long got = (long) mmap.invokeExact(base, Layout.MAP_SIZE, PROT_RW,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0L);
            if (got == base) {
                int rc = (int) mprotect.invokeExact(base, (long) Layout.CODE_SIZE, PROT_RWX);
                if (rc != 0) {
                    throw new IllegalStateException("mprotect RWX failed on the code page");
                }
                Layout layout = new Layout(base);
                return new NativeCpu(layout, MemorySegment.ofAddress(base).reinterpret(Layout.MAP_SIZE, Arena.global(), null));
            }
            // MAP_FIXED_NOREPLACE unsupported (old kernel) or the range is taken: try the next base.
        }
        throw new IllegalStateException("no candidate base address could be mapped");
    }

    Layout layout() {
        return layout;
    }

    /** Runs {@code sequence} from {@code in}; returns the state it leaves. */
    CpuState run(byte[] sequence, CpuState in) throws Throwable {
        byte[] code = NativeHarness.build(layout, sequence);
        MemorySegment codePage = mapping.asSlice(0, Layout.CODE_SIZE);
        codePage.fill((byte) 0xCC);
        MemorySegment.copy(code, 0, codePage, ValueLayout.JAVA_BYTE, 0, code.length);

        MemorySegment state = mapping.asSlice(layout.state() - layout.base(), 0x1000);
        for (int i = 0; i < 16; i++) {
            state.set(ValueLayout.JAVA_LONG_UNALIGNED, NativeHarness.IN_GPR + 8L * i, in.gpr[i]);
        }
        state.set(ValueLayout.JAVA_LONG_UNALIGNED, NativeHarness.IN_FLAGS, in.rflags);
        state.set(ValueLayout.JAVA_INT_UNALIGNED, NativeHarness.IN_MXCSR, in.mxcsr);
        for (int i = 0; i < 32; i++) {
            state.set(ValueLayout.JAVA_LONG_UNALIGNED, NativeHarness.IN_XMM + 8L * i, in.xmm[i]);
        }
        MemorySegment data = mapping.asSlice(layout.data() - layout.base(), Layout.DATA_SIZE);
        MemorySegment.copy(in.data, 0, data, ValueLayout.JAVA_BYTE, 0, Layout.DATA_SIZE);
        MemorySegment stack = mapping.asSlice(layout.stackWindow() - layout.base(), Layout.STACK_WINDOW);
        MemorySegment.copy(in.stack, 0, stack, ValueLayout.JAVA_BYTE, 0, Layout.STACK_WINDOW);

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
        MemorySegment.copy(stack, ValueLayout.JAVA_BYTE, 0, out.stack, 0, Layout.STACK_WINDOW);
        return out;
    }
}
