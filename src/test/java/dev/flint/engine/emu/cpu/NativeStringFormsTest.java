package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.nativecode.CodeCache;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.DATA;
import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.ENTRY;
import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.HALT;
import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.CODE;
import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.PAGES;
import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.REACH;
import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.REACH_END;
import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.READ_ONLY;
import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.UNMAPPED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The native tier's string forms ({@link NativeStringForms}: MOVS and STOS, plain and REP, every size, 64- and
 * 32-bit addressing, FS/GS sources) against the interpreter, over {@link NativeMemoryFormsTest}'s paged guest (a
 * not-present page, a read-only page, a page of decoded code). Each case is a block of 1-3 string instructions,
 * the later ones with RCX/RSI/RDI reloaded from other registers, ALU instructions between them (flags must
 * survive), and a JMP to HLT; counts 0, 1, small, up to three pages of elements; pointers anywhere in a page,
 * near its end (the copy crosses into the next page: the unmapped one, the read-only one, the code page), on the
 * decoded block's page; overlapping source and destination both ways; DF = 1 in one case of eight; a32 forms
 * with junk in the upper halves of RCX/RSI/RDI. Decoded by a run with small counts on writable pages (so that the
 * block is decoded whole), then run five times natively (the second after a TLB flush, the third with read
 * entries for every present data page, the last two with the TLB the runs before filled) and compared with the interpreter: the stop (fault vector and error
 * code, so RCX/RSI/RDI at the faulting iteration), GPRs, RIP, RFLAGS, RAM. {@code -Dflint.native.rep.cases=N},
 * {@code -Dflint.native.rep.seed=S}.
 */
class NativeStringFormsTest {
    /** Count, source and destination registers of the 1st, 2nd and 3rd string instruction. */
    private static final int[] COUNT = {1, 8, 11}, SRC = {6, 9, 12}, DST = {7, 10, 13};
    private static final int[] OPS = {0xA4, 0xA5, 0xAA, 0xAB};

    @Test
    void randomStringBlocksMatchTheInterpreter() {
        assumeTrue(CodeCache.unavailableReason().isEmpty(), () -> CodeCache.unavailableReason().orElseThrow());
        int cases = Integer.getInteger("flint.native.rep.cases", 6_000);
        long seed = Long.getLong("flint.native.rep.seed", 20261207L);
        long nativeInstructions = 0, faults = 0, wholeRuns = 0, backward = 0;
        List<String> divergences = new ArrayList<>();
        for (int c = 0; c < cases && divergences.isEmpty(); c++) {
            Random rnd = new Random(seed * 1_000_003L + c);
            rnd.nextLong();
            rnd.nextLong(); // Randoms seeded one apart hardly differ in their first draws
            boolean df = rnd.nextInt(8) == 0;
            if (df) backward++;
            Case k = new Case(rnd, df);
            byte[] code = k.code();
            byte[] data = new byte[PAGES * 4096];
            rnd.nextBytes(data);
            long rflags = 0x2 | (rnd.nextLong() & NativeAluFormsTest.STATUS) | (df ? 0x400 : 0);
            long fs = k.fsBase, gs = k.gsBase;
            NativeAluFormsTest.Outcome want;
            try (NativeMemoryFormsTest.Machine ref = new NativeMemoryFormsTest.Machine(false, false)) {
                NativeMemoryFormsTest.load(ref, code, data);
                reset(ref, k.gpr, rflags, fs, gs);
                want = NativeAluFormsTest.Outcome.of(ref, ref.run(1));
            }
            if (want.stop().startsWith("fault")) faults++;
            try (NativeMemoryFormsTest.Machine m = new NativeMemoryFormsTest.Machine(true, true)) {
                NativeMemoryFormsTest.load(m, code, data);
                byte[] initial = new byte[(int) (REACH_END - REACH)];
                m.mem.read(REACH, initial, 0, initial.length);
                reset(m, k.warm, 0x2, fs, gs); // decodes the block whole: small counts on writable pages
                m.run(64);
                for (int run = 0; run < 5; run++) {
                    m.mem.write(REACH, initial);
                    if (run == 1) m.mmu.flushAll();
                    reset(m, k.gpr, rflags, fs, gs);
                    if (run == 2) {
                        for (int p = 0; p < PAGES; p++) if (p != UNMAPPED) m.mmu.read1(DATA + 4096L * p);
                    }
                    long before = m.cpu.statistics().nativeInstructions();
                    NativeAluFormsTest.Outcome got = NativeAluFormsTest.Outcome.of(m, m.run(64));
                    long ran = m.cpu.statistics().nativeInstructions() - before;
                    nativeInstructions += ran;
                    if (ran >= k.instructions + 1) wholeRuns++;
                    String why = got.differs(want, 0);
                    if (!why.isEmpty()) {
                        divergences.add("case " + c + " run " + run + " code " + HexFormat.of().formatHex(code)
                                + " rflags " + Long.toHexString(rflags) + " fs " + Long.toHexString(fs) + ":" + why
                                + "\n  " + String.join("\n  ", k.text) + "\n  gpr " + java.util.Arrays.toString(k.gpr));
                        break;
                    }
                }
            }
        }
        String summary = String.format("NATIVE_REP: %d cases (%d with DF = 1), %d instructions run natively, %d runs "
                + "native whole, %d cases fault on the interpreter, %d divergences (seed %d)", cases, backward,
                nativeInstructions, wholeRuns, faults, divergences.size(), seed);
        System.out.println(summary);
        assertEquals("", String.join("\n", divergences), summary);
        assertTrue(nativeInstructions >= 100_000 || cases < 6_000, summary);
        assertTrue(wholeRuns > cases / 2, summary);
    }

    /** A REP MOVSB of 64 bytes between two data pages (busybox's memcpy of a sha256 block) runs natively whole. */
    @Test
    void aShortRepMovsbRunsNativelyWhole() {
        assumeTrue(CodeCache.unavailableReason().isEmpty(), () -> CodeCache.unavailableReason().orElseThrow());
        byte[] code = {(byte) 0xF3, (byte) 0xA4, (byte) 0xE9, 0, 0, 0, 0};
        long rel = HALT - (CODE + 7);
        for (int i = 0; i < 4; i++) code[3 + i] = (byte) (rel >>> (8 * i));
        byte[] data = new byte[PAGES * 4096];
        new Random(1).nextBytes(data);
        try (NativeMemoryFormsTest.Machine m = new NativeMemoryFormsTest.Machine(true, true)) {
            NativeMemoryFormsTest.load(m, code, data);
            long[] gpr = new long[16];
            gpr[1] = 64;
            gpr[6] = DATA + 0x1000 + 0x40;
            gpr[7] = DATA + 0x3000 + 0x80;
            long ran = 0;
            for (int run = 0; run < 4; run++) {
                reset(m, gpr, 0x2, 0, 0);
                long before = m.cpu.statistics().nativeInstructions();
                assertTrue(m.run(64).startsWith("halt"));
                ran = m.cpu.statistics().nativeInstructions() - before;
            }
            assertEquals(3, ran, "entry JMP, REP MOVSB, JMP: natively");
            assertEquals(0, m.st.gpr[1]);
            assertEquals(DATA + 0x1000 + 0x80, m.st.gpr[6]);
            assertEquals(DATA + 0x3000 + 0xC0, m.st.gpr[7]);
            byte[] got = new byte[64];
            m.mem.read(DATA + 0x3000 + 0x80, got, 0, 64);
            assertEquals(HexFormat.of().formatHex(data, 0x1040, 0x1080), HexFormat.of().formatHex(got));
        }
    }

    /**
     * A REP STOSB into the running block's own next instruction (a {@code mov eax, imm32}): with a write entry for
     * the code's page in the soft TLB, only the page's code mark sends the store to Java; the MOV after it then runs
     * with the byte just stored (self-modifying code stays exact).
     */
    @Test
    void aRepStosIntoTheRunningBlockIsSeenByItsNextInstruction() {
        assumeTrue(CodeCache.unavailableReason().isEmpty(), () -> CodeCache.unavailableReason().orElseThrow());
        byte[] code = {(byte) 0xF3, (byte) 0xAA, (byte) 0xB8, 0x11, 0x22, 0x33, 0x44, (byte) 0xE9, 0, 0, 0, 0};
        long rel = HALT - (CODE + code.length);
        for (int i = 0; i < 4; i++) code[8 + i] = (byte) (rel >>> (8 * i));
        try (NativeMemoryFormsTest.Machine m = new NativeMemoryFormsTest.Machine(true, true)) {
            NativeMemoryFormsTest.load(m, code, new byte[PAGES * 4096]);
            long[] gpr = new long[16];
            gpr[0] = 0x99;
            gpr[1] = 2;
            gpr[7] = DATA + 0x100;
            reset(m, gpr, 0x2, 0, 0);
            m.mmu.write1(CODE + 0x800, 0); // a write entry for the code page, before it holds decoded code
            long ran = 0;
            for (int run = 0; run < 4; run++) {
                reset(m, gpr, 0x2, 0, 0);
                long before = m.cpu.statistics().nativeInstructions();
                m.run(64);
                ran = m.cpu.statistics().nativeInstructions() - before;
            }
            assertEquals(4, ran, "entry JMP, REP STOSB, MOV, JMP: natively");
            assertEquals(0x44332211L, m.st.gpr[0]);
            gpr[7] = CODE + 3; // the low two bytes of the mov's immediate
            reset(m, gpr, 0x2, 0, 0);
            assertTrue(m.run(64).startsWith("halt"));
            assertEquals(0x44339999L, m.st.gpr[0], "the mov after the store ran with the bytes just stored");
            assertEquals(0, m.st.gpr[1]);
            assertEquals(CODE + 5, m.st.gpr[7]);
        }
    }

    /**
     * Interrupts within bounded instructions: a REP STOSQ over 8 pages, every page in the soft TLB, run with a
     * budget of 4 instructions stops natively after a few chunks (one instruction per page after the first), with
     * RCX, RDI exact at a page boundary, instead of filling all 8 pages in one native run.
     */
    @Test
    void aLongRepStosStopsAtTheBudgetBetweenPages() {
        assumeTrue(CodeCache.unavailableReason().isEmpty(), () -> CodeCache.unavailableReason().orElseThrow());
        byte[] code = {(byte) 0xF3, 0x48, (byte) 0xAB, (byte) 0xE9, 0, 0, 0, 0};
        long rel = HALT - (CODE + code.length);
        for (int i = 0; i < 4; i++) code[4 + i] = (byte) (rel >>> (8 * i));
        try (NativeMemoryFormsTest.Machine m = new NativeMemoryFormsTest.Machine(true, true)) {
            NativeMemoryFormsTest.load(m, code, new byte[PAGES * 4096]);
            long[] gpr = new long[16];
            gpr[0] = 0x0123_4567_89AB_CDEFL;
            gpr[1] = 8 * 512;
            gpr[7] = DATA;
            for (int run = 0; run < 4; run++) { // fills the TLB with write entries for the 8 pages, decodes
                reset(m, gpr, 0x2, 0, 0);
                assertTrue(m.run(64).startsWith("halt"));
            }
            reset(m, gpr, 0x2, 0, 0);
            m.cpu.execute(2); // the entry JMP, then the block: the REP with 2 - 1 instructions left
            long rcx = m.st.gpr[1], done = 8 * 512 - rcx;
            assertEquals(CODE, m.st.rip, "stopped at the REP");
            assertTrue(rcx > 0 && rcx < 8 * 512, "a part done, not all: RCX " + rcx);
            assertEquals(0, done % 512, "whole pages: RCX " + rcx);
            assertEquals(DATA + 8 * done, m.st.gpr[7]);
            assertTrue(m.run(64).startsWith("halt"));
            assertEquals(0, m.st.gpr[1]);
            assertEquals(DATA + 8 * 4096, m.st.gpr[7]);
            assertEquals(0x0123_4567_89AB_CDEFL, m.mem.readLong(DATA + 8 * 4096 - 8));
        }
    }

    private static void reset(NativeMemoryFormsTest.Machine m, long[] gpr, long rflags, long fs, long gs) {
        m.reset(gpr, rflags, ENTRY);
        m.st.segBase[CpuState.FS] = fs;
        m.st.segBase[CpuState.GS] = gs;
    }

    /** One random block and its registers (compared runs) and warm registers (the decoding run). */
    private static final class Case {
        final Random r;
        final boolean df;
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final List<String> text = new ArrayList<>();
        final long[] gpr = new long[16], warm = new long[16];
        final long fsBase, gsBase;
        int instructions;

        Case(Random r, boolean df) {
            this.r = r;
            this.df = df;
            fsBase = r.nextInt(4) == 0 ? 0 : 4096L * r.nextInt(4) + r.nextInt(16);
            gsBase = r.nextInt(4) == 0 ? 0 : 4096L * r.nextInt(4) + r.nextInt(16);
            for (int i = 0; i < 16; i++) if (i != 4) gpr[i] = r.nextLong();
            gpr[4] = NativeMemoryFormsTest.STACK;
            System.arraycopy(gpr, 0, warm, 0, 16);
        }

        byte[] code() {
            int n = 1 + r.nextInt(3);
            boolean junkDone = false;
            for (int j = 0; j < n; j++) {
                int op = OPS[r.nextInt(OPS.length)];
                int size = (op & 1) == 0 ? 1 : new int[] {2, 4, 8}[r.nextInt(3)];
                boolean rep = r.nextInt(5) != 0;
                boolean a32 = r.nextInt(4) == 0;
                int seg = op <= 0xA5 ? new int[] {-1, -1, -1, CpuState.FS, CpuState.GS, CpuState.ES, CpuState.DS}[r.nextInt(7)] : -1;
                boolean movs = op <= 0xA5;
                long base = seg == CpuState.FS ? fsBase : seg == CpuState.GS ? gsBase : 0;
                if (j > 0) { // reload the registers this instruction uses (always after a32 junk)
                    if (junkDone || r.nextInt(4) != 0) mov(1, COUNT[j]);
                    if (junkDone || r.nextInt(4) != 0) mov(6, SRC[j]);
                    if (junkDone || r.nextInt(4) != 0) mov(7, DST[j]);
                    alu();
                }
                long elements = count();
                long dst = pointer(elements * size, true);
                long src = r.nextInt(6) == 0 ? overlap(dst, elements * size) : pointer(elements * size, false);
                gpr[COUNT[j]] = elements;
                gpr[SRC[j]] = src - base;
                gpr[DST[j]] = dst;
                warm[COUNT[j]] = 1 + r.nextInt(4);
                warm[SRC[j]] = DATA + 4096L * r.nextInt(8) + 256 + r.nextInt(2048) - base;
                warm[DST[j]] = DATA + 4096L * r.nextInt(12) + 256 + r.nextInt(2048);
                if (a32 && j == 0) { // the upper halves are not used, and a32 writes clear them; each register on
                    // its own (junk in RSI or RDI alone sends a form that used it to a page the TLB never holds)
                    if (r.nextBoolean()) gpr[1] |= (long) r.nextInt() << 32;
                    if (r.nextBoolean()) gpr[6] |= (long) r.nextInt() << 32;
                    if (r.nextBoolean()) gpr[7] |= (long) r.nextInt() << 32;
                    junkDone = true;
                }
                if (seg == CpuState.FS) out.write(0x64);
                if (seg == CpuState.GS) out.write(0x65);
                if (seg == CpuState.ES) out.write(0x26);
                if (seg == CpuState.DS) out.write(0x3E);
                if (size == 2) out.write(0x66);
                if (rep) out.write(r.nextInt(4) == 0 ? 0xF2 : 0xF3);
                if (a32) out.write(0x67);
                if (size == 8) out.write(0x48);
                out.write(op | (size == 1 ? 0 : 1));
                instructions++;
                text.add((rep ? "rep " : "") + (movs ? "movs" : "stos") + size + (a32 ? " a32" : "") + (seg >= 0 ? " seg" + seg : "")
                        + " count " + elements + " src " + Long.toHexString(src) + " dst " + Long.toHexString(dst));
                if (!rep && j == 0) junkDone = true; // RCX untouched: reload it before a later REP
                if (r.nextInt(2) == 0) alu();
            }
            long rel = HALT - (CODE + out.size() + 5);
            out.write(0xE9);
            for (int i = 0; i < 4; i++) out.write((int) (rel >>> (8 * i)));
            instructions++;
            return out.toByteArray();
        }

        /** mov r64(to), r64(from) (89 /r with REX.W, REX.R for from, REX.B for to). */
        private void mov(int to, int from) {
            out.write(0x48 | (from >> 3) << 2 | (to >> 3));
            out.write(0x89);
            out.write(0xC0 | (from & 7) << 3 | (to & 7));
            instructions++;
        }

        /** An ALU r,r on RDX, RBX, R14 (the flags after it must survive the string forms). */
        private void alu() {
            int[] regs = {2, 3, 14};
            int a = regs[r.nextInt(3)], b = regs[r.nextInt(3)];
            out.write(0x48 | (b >> 3) << 2 | (a >> 3));
            out.write(new int[] {0x01, 0x29, 0x31, 0x11, 0x21}[r.nextInt(5)]);
            out.write(0xC0 | (b & 7) << 3 | (a & 7));
            instructions++;
        }

        private long count() {
            return switch (r.nextInt(8)) {
                case 0 -> 0;
                case 1 -> 1;
                case 2, 3 -> 2 + r.nextInt(40);
                case 4, 5 -> 40 + r.nextInt(600);
                default -> r.nextInt(3 * 4096 / 8 + 1);
            };
        }

        /** A linear address whose {@code bytes} stay inside the compared RAM (either direction). */
        private long pointer(long bytes, boolean store) {
            if (!df && r.nextInt(12) == 0) return ENTRY + 0x800 + r.nextInt(0x700); // the decoded block's page
            int page = r.nextInt(10) == 0 ? UNMAPPED - 1 : r.nextInt(12) == 0 ? READ_ONLY - 1
                    : r.nextInt(24) == 0 ? UNMAPPED : r.nextInt(24) == 0 ? READ_ONLY : r.nextInt(UNMAPPED);
            int off = switch (r.nextInt(4)) {
                case 0 -> 4096 - 1 - r.nextInt(64); // near the end: crosses into the next page
                case 1 -> r.nextInt(64);
                default -> r.nextInt(4096);
            };
            long p = DATA + 4096L * page + off;
            if (df && p - bytes < DATA - 8 * 4096) p = DATA + 8 * 4096 + off;
            return p;
        }

        /** A source overlapping the destination's range, before or after it. */
        private long overlap(long dst, long bytes) {
            long d = 1 + r.nextInt((int) Math.max(1, Math.min(bytes, 64)));
            return r.nextBoolean() ? dst + d : dst - d;
        }
    }
}
