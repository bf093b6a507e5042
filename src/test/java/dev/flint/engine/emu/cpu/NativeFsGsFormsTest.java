package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.nativecode.CodeCache;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.CODE;
import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.DATA;
import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.ENTRY;
import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.HALT;
import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.PAGES;
import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.REACH;
import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.REACH_END;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * FS/GS-relative memory operands in the native tier (docs/emu-native.md, "emufsgs"): the linear address is the
 * segment's base plus the effective address, the base comes from the vCPU at every entry from Java.
 *
 * <p>The random group runs blocks whose every memory form has an FS or GS override (loads, stores, read-modify-
 * writes, every size and addressing shape of {@link NativeMemoryFormsTest}'s generator) with random nonzero bases:
 * small ones (the absolute and RIP-relative forms then reach the data too), large canonical ones of both halves
 * (pointer registers hold data address minus base), a GS base a few pages below FS's, and now and then a GS base
 * that makes the sum non-canonical (#GP in Java). Pages unmapped, read-only and holding decoded code are among the
 * targets. Each block runs natively (decoded first, then three runs, one after a TLB flush) and on the interpreter:
 * registers, RIP, RFLAGS, stop and RAM must be equal. {@code -Dflint.native.fsgs.cases=N}, {@code .seed=S}.
 */
class NativeFsGsFormsTest {
    private static final long CANONICAL_BREAK = 1L << 47;

    @Test
    void randomFsGsBlocksMatchTheInterpreter() {
        assumeTrue(CodeCache.unavailableReason().isEmpty(), () -> CodeCache.unavailableReason().orElseThrow());
        int cases = Integer.getInteger("flint.native.fsgs.cases", 8_000);
        long seed = Long.getLong("flint.native.fsgs.seed", 20261207L);
        long nativeInstructions = 0, faults = 0, gpFaults = 0, nativeFaults = 0;
        List<String> divergences = new ArrayList<>();
        for (int c = 0; c < cases; c++) {
            Random rnd = new Random(seed * 1_000_003L + c);
            long fs = base(rnd);
            long gs = rnd.nextInt(16) == 0 ? fs + CANONICAL_BREAK : fs - 4096L * rnd.nextInt(3);
            byte[] code = block(rnd, fs, gs);
            long[] gpr = new long[16];
            for (int r : NativeMemoryFormsTest.VALUE) gpr[r] = NativeMemoryFormsTest.value(rnd);
            for (int r : NativeMemoryFormsTest.POINTER) gpr[r] = NativeMemoryFormsTest.pointer(rnd) - fs;
            gpr[NativeMemoryFormsTest.INDEX] = rnd.nextInt(64);
            long rflags = 0x2 | (rnd.nextLong() & NativeMemoryFormsTest.ARITH);
            byte[] data = new byte[PAGES * 4096];
            rnd.nextBytes(data);
            String want;
            try (NativeMemoryFormsTest.Machine ref = new NativeMemoryFormsTest.Machine(false, false)) {
                NativeMemoryFormsTest.load(ref, code, data);
                reset(ref, gpr, rflags, fs, gs);
                want = ref.run(1);
            }
            if (want.startsWith("fault")) faults++;
            if (want.startsWith("fault 13")) gpFaults++;
            long[] ran = new long[3];
            String[] got = runs(code, data, gpr, rflags, fs, gs, ran);
            for (int run = 0; run < 3; run++) {
                nativeInstructions += ran[run];
                if (ran[run] > 0 && got[run].startsWith("fault")) nativeFaults++;
                if (got[run].equals(want)) continue;
                divergences.add("case " + c + " run " + run + " fs " + Long.toHexString(fs) + " gs " + Long.toHexString(gs)
                        + " code " + java.util.HexFormat.of().formatHex(code)
                        + "\n  native " + got[run] + "\n  interp " + want);
                break;
            }
        }
        String summary = String.format("NATIVE_FSGS: %d cases, %d instructions run natively, %d cases fault on the "
                + "interpreter (%d #GP), %d native runs ended by a fault Java raised after a native exit, %d divergences "
                + "(seed %d)", cases, nativeInstructions, faults, gpFaults, nativeFaults, divergences.size(), seed);
        System.out.println(summary);
        assertEquals("", String.join("\n", divergences.stream().limit(5).toList()), summary);
        assertTrue(nativeInstructions >= 100_000 || cases < 8_000, summary);
        assertTrue(nativeFaults > 0 && gpFaults > 0, summary);
    }

    /**
     * A nonzero base: tiny (within 12 KiB, so that the effective address without the base is a mapped data address
     * as well), small (within 512 MiB, any alignment), or large canonical in the low or the high half.
     */
    private static long base(Random r) {
        long b = switch (r.nextInt(8)) {
            case 0, 1 -> r.nextInt(0x6000) - 0x3000; // the effective address alone is mapped too: a lost base hits
            case 2, 3, 4, 5 -> (long) r.nextInt(1 << 30) - (1 << 29);
            case 6 -> (r.nextLong() & 0x7FFF_FFFF_F000L) | r.nextInt(4096);
            default -> 0xFFFF_8000_0000_0000L | (r.nextLong() & 0x7FFF_FFFF_FFF8L);
        };
        return b == 0 ? 0x1000 : b;
    }

    /** Random FS/GS memory forms and register forms, then a JMP to HLT (on another page). */
    private static byte[] block(Random r, long fs, long gs) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int n = 1 + r.nextInt(20);
        for (int i = 0; i < n; i++) {
            if (r.nextInt(4) == 0) {
                NativeMemoryFormsTest.regForm(r, out);
                continue;
            }
            boolean useFs = r.nextBoolean();
            out.write(useFs ? 0x64 : 0x65);
            // The generator's RIP-relative and absolute targets aim at data through FS's base.
            NativeMemoryFormsTest.memForm(r, out, fs);
        }
        long rel = HALT - (CODE + out.size() + 5);
        out.write(0xE9);
        NativeMemoryFormsTest.putInt(out, (int) rel);
        return out.toByteArray();
    }

    private static void reset(NativeMemoryFormsTest.Machine m, long[] gpr, long rflags, long fs, long gs) {
        m.reset(gpr, rflags, ENTRY);
        m.st.segBase[CpuState.FS] = fs;
        m.st.segBase[CpuState.GS] = gs;
    }

    /** Decodes (a first run), then three runs on the same CPU, the second after a TLB flush. */
    private static String[] runs(byte[] code, byte[] data, long[] gpr, long rflags, long fs, long gs, long[] ran) {
        String[] out = new String[3];
        try (NativeMemoryFormsTest.Machine m = new NativeMemoryFormsTest.Machine(true, true)) {
            NativeMemoryFormsTest.load(m, code, data);
            byte[] initial = new byte[(int) (REACH_END - REACH)];
            m.mem.read(REACH, initial, 0, initial.length);
            reset(m, gpr, rflags, fs, gs);
            m.run(64);
            for (int run = 0; run < 3; run++) {
                m.mem.write(REACH, initial);
                if (run == 1) m.mmu.flushAll();
                reset(m, gpr, rflags, fs, gs);
                long before = m.cpu.statistics().nativeInstructions();
                out[run] = m.run(64);
                ran[run] = m.cpu.statistics().nativeInstructions() - before;
            }
        }
        return out;
    }

    /**
     * The stack-canary load of a loop body, with the guest moving FS's base by WRMSR (run in Java) between two
     * native runs of the same block: every pass must read through the base of that pass. Block A (native):
     * {@code mov rax, fs:[0x28]; add rbx, rax; dec esi; jnz W} then HLT; block W (WRMSR, in Java):
     * {@code add r8, 8; mov rax, r8; mov rdx, r8; shr rdx, 32; mov ecx, IA32_FS_BASE; wrmsr; jmp A}. The data
     * holds qword i = i * 0x10001 + 7, so a stale base shows as a wrong sum in RBX.
     */
    @Test
    void aBaseChangedByWrmsrBetweenTwoNativeRunsOfTheSameBlockIsUsed() {
        assumeTrue(CodeCache.unavailableReason().isEmpty(), () -> CodeCache.unavailableReason().orElseThrow());
        int passes = 200;
        long a = CODE, w = CODE + 0x100;
        ByteArrayOutputStream blockA = new ByteArrayOutputStream();
        blockA.writeBytes(new byte[] {0x64, 0x48, (byte) 0x8B, 0x04, 0x25, 0x28, 0, 0, 0}); // mov rax, fs:[0x28]
        blockA.writeBytes(new byte[] {0x48, 0x01, (byte) 0xC3});                            // add rbx, rax
        blockA.writeBytes(new byte[] {(byte) 0xFF, (byte) 0xCE});                           // dec esi
        long jnzEnd = a + blockA.size() + 6;
        blockA.writeBytes(new byte[] {0x0F, (byte) 0x85});                                  // jnz W
        NativeMemoryFormsTest.putInt(blockA, (int) (w - jnzEnd));
        blockA.write(0xF4);                                                                 // hlt
        ByteArrayOutputStream blockW = new ByteArrayOutputStream();
        blockW.writeBytes(new byte[] {0x49, (byte) 0x83, (byte) 0xC0, 0x08});               // add r8, 8
        blockW.writeBytes(new byte[] {0x4C, (byte) 0x89, (byte) 0xC0});                     // mov rax, r8
        blockW.writeBytes(new byte[] {0x4C, (byte) 0x89, (byte) 0xC2});                     // mov rdx, r8
        blockW.writeBytes(new byte[] {0x48, (byte) 0xC1, (byte) 0xEA, 0x20});               // shr rdx, 32
        blockW.writeBytes(new byte[] {(byte) 0xB9, 0x00, 0x01, 0x00, (byte) 0xC0});         // mov ecx, 0xC0000100
        blockW.writeBytes(new byte[] {0x0F, 0x30});                                         // wrmsr
        long jmpEnd = w + blockW.size() + 5;
        blockW.write(0xE9);                                                                 // jmp A
        NativeMemoryFormsTest.putInt(blockW, (int) (a - jmpEnd));

        long fs0 = DATA + 0x100 - 0x28; // pass i reads the qword at DATA + 0x100 + 8i
        long expected = 0;
        for (int i = 0; i < passes; i++) expected += qword(0x100 / 8 + i);
        long native0 = 0;
        String[] outcome = new String[2];
        for (int tier = 0; tier < 2; tier++) {
            try (NativeMemoryFormsTest.Machine m = new NativeMemoryFormsTest.Machine(tier == 1, tier == 1)) {
                for (int i = 0; i < 4096 / 8; i++) m.mem.writeLong(DATA + 8L * i, qword(i));
                m.mem.write(a, blockA.toByteArray());
                m.mem.write(w, blockW.toByteArray());
                long[] gpr = new long[16];
                gpr[6] = passes;  // RSI
                gpr[8] = fs0;     // R8: the base, moved by 8 a pass
                m.reset(gpr, 0x2, a);
                m.st.segBase[CpuState.FS] = fs0;
                long before = m.cpu.statistics().nativeInstructions();
                outcome[tier] = m.run(64);
                if (tier == 1) native0 = m.cpu.statistics().nativeInstructions() - before;
                assertEquals(expected, m.st.gpr[3], (tier == 1 ? "native" : "interpreter") + ": the sum of the qwords at each pass's base");
                assertEquals(fs0 + 8L * (passes - 1), m.st.segBase[CpuState.FS], "the guest's WRMSRs");
            }
        }
        assertEquals(outcome[0], outcome[1], "native tier against the interpreter");
        assertTrue(native0 >= 3L * (passes - 2), "the canary load's block ran natively in (almost) every pass: " + native0);
    }

    private static long qword(int i) { return i * 0x10001L + 7; }
}
