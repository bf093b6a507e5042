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
import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.READ_ONLY;
import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.REACH;
import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.REACH_END;
import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.UNMAPPED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Indirect CALL and JMP in the native tier ({@link NativeIndirectForms}: {@code FF /2}, {@code FF /4}, register and
 * memory operands) against the interpreter over the paged guest of {@link NativeMemoryFormsTest}. Random programs
 * loop three times over call sites whose targets are functions on the caller's page and on three other pages, one
 * of them (F3) rewritten by the program between calls (a store into its code); the target comes from a register
 * (R15 and RAX included), from a pointer at [base + index * scale + disp] (RSP and R15 as base), [disp32],
 * [RIP + disp32] or FS:/GS:[base + disp], with the pointer in a data page, across a page end, in the unmapped page
 * (#PF on the read) or in the read-only one; JMP sites push their return address first so that the callee's RET
 * comes back. RSP is mostly in a data page, sometimes on the unmapped or read-only page (the CALL's push faults) or
 * misaligned across a page end. Registers, RIP, RFLAGS, the stop and RAM must equal the interpreter's, on the
 * decoding run and three runs after it (the 2nd after {@code flushAll}). {@code -Dflint.native.ijmp.cases=N},
 * {@code -Dflint.native.ijmp.seed=S}.
 */
class NativeIndirectFormsTest {
    /** The callees: F0 on the caller's page, F1 and F2 on two other pages, F3 (rewritten by the program) on a third. */
    static final long F0 = CODE + 0x800, F1 = 0x11_0000L, F2 = 0x11_2000L, F3 = 0x11_4000L;
    private static final long[] TARGETS = {F0, F1, F2, F3};
    /** Registers the body may clobber: all but RSP and R14 (the loop counter). */
    private static final int[] FREE = {0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15};
    // Small bases: an address computed without them still lands in a data page (a warm TLB entry), so a lost base shows.
    private static final long FS_BASE = 0x3000, GS_BASE = 0x5000;

    private static boolean available() { return CodeCache.unavailableReason().isEmpty(); }

    // ------------------------------------------------------------------ targeted

    /**
     * A loop calling a function on another page through a pointer 1,000 times: after the first calls the CALL [m]
     * and the RET both find their targets in the indirect-jump table, so the whole loop runs natively with a
     * handful of Java entries, and the outcome is the interpreter's.
     */
    @Test
    void aCallThroughAPointerLoopRunsInTheTableWithTheInterpretersOutcome() {
        assumeTrue(available(), () -> CodeCache.unavailableReason().orElseThrow());
        ByteArrayOutputStream main = new ByteArrayOutputStream();
        long slot = DATA + 0x1008;
        movImm64(main, 3, slot - 8);                    // mov rbx, slot - 8
        int loop = main.size();
        indirect(main, 2, 3, -1, 0, 8, 0, false);       // L: call [rbx + 8]
        main.write(0xFF); main.write(0xC9);             // dec ecx
        main.write(0x0F); main.write(0x85);             // jnz L
        putInt(main, loop - (main.size() + 4));
        jmp(main, CODE, HALT);
        byte[] f1 = {0x48, (byte) 0x83, (byte) 0xC0, 0x03, (byte) 0xC3}; // add rax, 3; ret
        byte[] data = new byte[PAGES * 4096];
        putLong(data, (int) (slot - DATA), F1);
        long[] gpr = new long[16];
        gpr[1] = 1000;
        gpr[4] = DATA + 0x2800;
        String want;
        try (NativeMemoryFormsTest.Machine ref = new NativeMemoryFormsTest.Machine(false, false)) {
            load(ref, main.toByteArray(), new byte[] {(byte) 0xC3}, f1, data);
            ref.reset(gpr, 0x2, ENTRY);
            want = ref.run(64);
        }
        try (NativeMemoryFormsTest.Machine m = new NativeMemoryFormsTest.Machine(true, true)) {
            load(m, main.toByteArray(), new byte[] {(byte) 0xC3}, f1, data);
            m.reset(gpr, 0x2, ENTRY);
            m.run(64); // decodes and fills the table
            m.reset(gpr, 0x2, ENTRY);
            long before = m.cpu.statistics().nativeInstructions(), entries = javaEntries(m);
            String got = m.run(100_000);
            assertEquals(want, got);
            assertEquals(3000, m.st.gpr[0]);
            long ran = m.cpu.statistics().nativeInstructions() - before;
            long javaEntries = javaEntries(m) - entries;
            assertTrue(ran >= 4_990, "instructions run natively: " + ran);
            assertTrue(javaEntries < 20, "Java entries into native code (each CALL [m] a table hit): " + javaEntries);
        }
    }

    /**
     * CALL [rbx] after warm native runs through a good pointer on page 12 (its TLB entry filled, the block
     * translated), then with the pointer's 8 bytes crossing from page 12 into the unmapped page, or inside it: the
     * block exits at the CALL and Java raises #PF (error 0, a read) there with nothing done, RSP unchanged.
     */
    @Test
    void aPointerCrossingIntoOrOnTheUnmappedPageFaultsAtTheCallWithNothingDone() {
        assumeTrue(available(), () -> CodeCache.unavailableReason().orElseThrow());
        ByteArrayOutputStream main = new ByteArrayOutputStream();
        indirect(main, 2, 3, -1, 0, 0, 0, false); // call [rbx]
        jmp(main, CODE, HALT);
        long good = DATA + 4096L * (UNMAPPED - 1) + 0x800;
        byte[] data = new byte[PAGES * 4096];
        putLong(data, (int) (good - DATA), F1);
        for (long bad : new long[] {DATA + 4096L * UNMAPPED - 4, DATA + 4096L * UNMAPPED + 8}) {
            long[] gpr = new long[16];
            gpr[3] = bad;
            gpr[4] = DATA + 0x2800;
            String want;
            try (NativeMemoryFormsTest.Machine ref = new NativeMemoryFormsTest.Machine(false, false)) {
                load(ref, main.toByteArray(), new byte[] {(byte) 0xC3}, new byte[] {(byte) 0xC3}, data);
                ref.reset(gpr, 0x2, ENTRY);
                want = ref.run(64);
            }
            assertTrue(want.startsWith("fault 14 error 0 rip " + Long.toHexString(CODE) + " "), want);
            try (NativeMemoryFormsTest.Machine m = new NativeMemoryFormsTest.Machine(true, true)) {
                load(m, main.toByteArray(), new byte[] {(byte) 0xC3}, new byte[] {(byte) 0xC3}, data);
                long[] warm = gpr.clone();
                warm[3] = good;
                long ran = 0;
                for (int run = 0; run < 3; run++) {
                    m.reset(warm, 0x2, ENTRY);
                    long before = m.cpu.statistics().nativeInstructions();
                    assertTrue(m.run(64).startsWith("halt"));
                    ran = m.cpu.statistics().nativeInstructions() - before;
                }
                assertTrue(ran >= 3, "the warm run's CALL [rbx] ran natively: " + ran);
                m.mem.write(DATA, data); // the warm runs' return addresses off the stack
                m.reset(gpr, 0x2, ENTRY);
                assertEquals(want, m.run(64), "pointer at " + Long.toHexString(bad));
                assertEquals(DATA + 0x2800, m.st.gpr[4], "RSP unchanged");
            }
        }
    }

    // ------------------------------------------------------------------ the random group

    @Test
    void randomIndirectCallAndJmpProgramsMatchTheInterpreter() {
        assumeTrue(available(), () -> CodeCache.unavailableReason().orElseThrow());
        int cases = Integer.getInteger("flint.native.ijmp.cases", 2_000);
        long seed = Long.getLong("flint.native.ijmp.seed", 20261207L);
        long nativeInstructions = 0, faults = 0, nativeFaults = 0;
        List<String> divergences = new ArrayList<>();
        for (int c = 0; c < cases; c++) {
            Random rnd = new Random(seed * 1_000_003L + c);
            byte[] data = new byte[PAGES * 4096];
            rnd.nextBytes(data);
            byte[] main = program(rnd, data);
            byte[][] f = {function(rnd, F0, true), function(rnd, F1, true), function(rnd, F2, false),
                    smcFunction()};
            long[] gpr = new long[16];
            for (int r = 0; r < 16; r++) gpr[r] = rnd.nextInt(4) == 0 ? rnd.nextInt(256) : rnd.nextLong();
            gpr[4] = stack(rnd);
            long rflags = 0x2 | (rnd.nextLong() & Flags.ARITH);
            String want;
            try (NativeMemoryFormsTest.Machine ref = new NativeMemoryFormsTest.Machine(false, false)) {
                load(ref, main, f, data);
                reset(ref, gpr, rflags);
                want = ref.run(1);
            }
            if (want.startsWith("fault")) faults++;
            try (NativeMemoryFormsTest.Machine m = new NativeMemoryFormsTest.Machine(true, true)) {
                load(m, main, f, data);
                byte[] initial = new byte[(int) (REACH_END - REACH)];
                m.mem.read(REACH, initial, 0, initial.length);
                // A warm run on a good stack (TLB filled, blocks decoded whole even where the case's stack faults).
                long[] warm = gpr.clone();
                warm[4] = DATA + 0x2800;
                reset(m, warm, rflags);
                m.run(64);
                for (int run = 0; run < 4; run++) {
                    m.mem.write(REACH, initial);
                    if (run == 2) m.mmu.flushAll();
                    reset(m, gpr, rflags);
                    long before = m.cpu.statistics().nativeInstructions();
                    String got = m.run(64);
                    long ran = m.cpu.statistics().nativeInstructions() - before;
                    nativeInstructions += ran;
                    if (ran > 0 && got.startsWith("fault")) nativeFaults++;
                    if (!got.equals(want)) {
                        divergences.add("case " + c + " run " + run + "\n  main " + hex(main) + "\n  rsp "
                                + Long.toHexString(gpr[4]) + "\n  native " + got + "\n  interp " + want);
                        break;
                    }
                }
            }
        }
        String summary = String.format("NATIVE_IJMP: %d cases, %d instructions run natively, %d cases fault on the "
                + "interpreter, %d native runs ended by a fault Java raised after a native exit, %d divergences (seed %d)",
                cases, nativeInstructions, faults, nativeFaults, divergences.size(), seed);
        System.out.println(summary);
        assertEquals("", String.join("\n", divergences.stream().limit(5).toList()), summary);
        assertTrue(nativeInstructions >= 50L * cases, summary);
        assertTrue(nativeFaults > 0, summary);
    }

    /** Java's block entries (linked and looked up), as NativeCrossPageChainTest counts them. */
    private static long javaEntries(NativeMemoryFormsTest.Machine m) {
        return m.cpu.statistics().linkedEntries() + m.cpu.statistics().lookups();
    }

    private static void reset(NativeMemoryFormsTest.Machine m, long[] gpr, long rflags) {
        m.reset(gpr, rflags, ENTRY);
        m.st.segBase[CpuState.FS] = FS_BASE;
        m.st.segBase[CpuState.GS] = GS_BASE;
    }

    /** RSP: mostly inside a data page, sometimes where the CALL's push faults or crosses a page end. */
    private static long stack(Random r) {
        int page = 1 + r.nextInt(PAGES - 4);
        return switch (r.nextInt(16)) {
            case 0 -> DATA + 4096L * UNMAPPED + 0x800;                      // not present
            case 1 -> DATA + 4096L * READ_ONLY + 0x800;                     // the push faults
            case 2 -> DATA + 4096L * page + 4;                              // misaligned: a push crosses
            case 3 -> DATA + 4096L * UNMAPPED + 4;                          // a push crossing into the unmapped page
            default -> DATA + 4096L * page + 0x400 + 8L * r.nextInt(200);
        };
    }

    /**
     * The main program: F3's immediate set to 5, then a loop (R14 = 3) over call sites, ALU forms and stores that
     * rewrite F3's immediate; then a JMP to HLT.
     */
    private static byte[] program(Random r, byte[] data) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        smcStore(out, 5);
        out.write(0x41); out.write(0xBE); putInt(out, 3); // mov r14d, 3
        int loop = out.size();
        int n = 1 + r.nextInt(8);
        for (int i = 0; i < n; i++) {
            int k = r.nextInt(10);
            if (k < 6) site(r, out, data);
            else if (k < 8) alu(r, out);
            else smcStore(out, r.nextInt(128));
        }
        out.write(0x41); out.write(0xFF); out.write(0xCE); // dec r14d
        out.write(0x0F); out.write(0x85);                  // jnz loop
        putInt(out, loop - (out.size() + 4));
        jmp(out, CODE, HALT);
        return out.toByteArray();
    }

    /** mov rbx, F3 + 3; mov byte [rbx], v: rewrites F3's add immediate (a store into code). */
    private static void smcStore(ByteArrayOutputStream out, int v) {
        movImm64(out, 3, F3 + 3);
        out.write(0xC6); out.write(0x03); out.write(v);
    }

    /** One indirect CALL, or a JMP with its return address pushed first, to a random function. */
    private static void site(Random r, ByteArrayOutputStream out, byte[] data) {
        long target = TARGETS[r.nextInt(TARGETS.length)];
        boolean call = r.nextInt(3) != 0;
        int ext = call ? 2 : 4;
        boolean rexW = r.nextInt(4) == 0;
        // A JMP site: push imm32 of the address after the JMP, so that the callee's RET comes back. Its length is
        // only known once emitted: emit into a buffer with a placeholder and patch.
        ByteArrayOutputStream s = new ByteArrayOutputStream();
        int form = r.nextInt(8);
        long slot = pointer(r);
        switch (form) {
            case 0 -> { // register
                int reg = FREE[r.nextInt(FREE.length)];
                movImm64(s, reg, target);
                int pushAt = s.size();
                if (!call) pushPlaceholder(s);
                int jmpAt = s.size();
                if (reg >= 8 || rexW) s.write(0x40 | (rexW ? 8 : 0) | (reg >> 3));
                s.write(0xFF);
                s.write(0xC0 | ext << 3 | (reg & 7));
                finish(out, s, call, pushAt, jmpAt);
                return;
            }
            case 1 -> { // [rsp]: the pointer pushed, popped after the return
                s.write(0x68); putInt(s, (int) target);  // push imm32 (targets are below 2 GiB)
                int pushAt = s.size();
                if (!call) pushPlaceholder(s);
                int jmpAt = s.size();
                indirect(s, ext, 4, -1, 0, call ? 0 : 8, 0, rexW);
                finish(out, s, call, pushAt, jmpAt);
                int reg = FREE[r.nextInt(FREE.length)];
                if (reg >= 8) out.write(0x41);
                out.write(0x58 | (reg & 7));             // pop r: the pointer
                return;
            }
            default -> { }
        }
        writePointer(data, slot, target);
        int seg = 0, base = -1, index = -1, scale = 0;
        long disp;
        boolean ripRel = false;
        switch (form) {
            case 2 -> { base = FREE[r.nextInt(FREE.length)]; disp = r.nextInt(512) - 256; movImm64(s, base, slot - disp); }
            case 3 -> { // base and index
                base = FREE[r.nextInt(FREE.length)];
                do index = FREE[r.nextInt(FREE.length)]; while (index == base);
                scale = r.nextInt(4);
                long idx = r.nextInt(64);
                disp = r.nextInt(256);
                movImm64(s, index, idx);
                movImm64(s, base, slot - disp - (idx << scale));
            }
            case 4 -> { index = FREE[r.nextInt(FREE.length)]; scale = 3; long idx = r.nextInt(16); disp = slot - 8 * idx; movImm64(s, index, idx); }
            case 5 -> disp = slot;                       // [disp32]
            case 6 -> { ripRel = true; disp = slot; }
            default -> { // FS: or GS: [base + disp]
                seg = r.nextBoolean() ? 0x64 : 0x65;
                base = FREE[r.nextInt(FREE.length)];
                disp = r.nextInt(64) * 8;
                movImm64(s, base, slot - disp - (seg == 0x64 ? FS_BASE : GS_BASE));
            }
        }
        int pushAt = s.size();
        if (!call) pushPlaceholder(s);
        int jmpAt = s.size();
        if (seg != 0) s.write(seg);
        if (ripRel) {
            if (rexW) s.write(0x48);
            s.write(0xFF);
            s.write(0x05 | ext << 3);
            putInt(s, (int) (disp - (CODE + out.size() + s.size() + 4)));
        } else {
            indirect(s, ext, base, index, scale, disp, 0, rexW);
        }
        finish(out, s, call, pushAt, jmpAt);
    }

    /** A pointer slot: mostly in a data page, sometimes across a page end, on the unmapped or read-only page. */
    private static long pointer(Random r) {
        int page = 1 + r.nextInt(PAGES - 4);
        return switch (r.nextInt(12)) {
            case 0 -> DATA + 4096L * UNMAPPED + 8L * r.nextInt(512);     // #PF on the read
            case 1 -> DATA + 4096L * READ_ONLY + 8L * r.nextInt(512);    // readable
            case 2 -> DATA + 4096L * page - 4;                            // across a page end (Java reads it)
            case 3 -> DATA + 4096L * UNMAPPED - 4;                        // across into the unmapped page
            default -> DATA + 4096L * page + 8L * r.nextInt(512);
        };
    }

    private static void writePointer(byte[] data, long slot, long target) {
        int at = (int) (slot - DATA);
        for (int i = 0; i < 8; i++) if (at + i >= 0 && at + i < data.length) data[at + i] = (byte) (target >>> (8 * i));
    }

    private static void pushPlaceholder(ByteArrayOutputStream s) {
        s.write(0x68);
        putInt(s, 0);
    }

    /** Appends site {@code s} to {@code out}; for a JMP patches the pushed return address (the end of the site). */
    private static void finish(ByteArrayOutputStream out, ByteArrayOutputStream s, boolean call, int pushAt, int jmpAt) {
        byte[] b = s.toByteArray();
        if (!call) {
            int ret = (int) (CODE + out.size() + b.length);
            for (int i = 0; i < 4; i++) b[pushAt + 1 + i] = (byte) (ret >>> (8 * i));
        }
        out.write(b, 0, b.length);
    }

    /**
     * FF /ext with a memory operand [base + index << scale + disp32] (base or index -1 for none; a SIB byte always),
     * REX as needed.
     */
    private static void indirect(ByteArrayOutputStream s, int ext, int base, int index, int scale, long disp, int unused,
                                 boolean rexW) {
        int rex = 0x40 | (rexW ? 8 : 0) | (index >= 8 ? 2 : 0) | (base >= 8 ? 1 : 0);
        if (rex != 0x40) s.write(rex);
        s.write(0xFF);
        s.write((base < 0 ? 0x00 : 0x80) | ext << 3 | 4);
        s.write(scale << 6 | (index < 0 ? 4 : index & 7) << 3 | (base < 0 ? 5 : base & 7));
        putInt(s, (int) disp);
    }

    /** A function at {@code at}: ALU forms, maybe an indirect call through a register to F2, RET. */
    private static byte[] function(Random r, long at, boolean mayCall) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int n = r.nextInt(4);
        for (int i = 0; i < n; i++) alu(r, out);
        if (mayCall && r.nextBoolean()) {
            movImm64(out, 11, F2);
            out.write(0x41); out.write(0xFF); out.write(0xD3); // call r11
        }
        out.write(0xC3);
        return out.toByteArray();
    }

    /** F3: add rax, imm8 (the program rewrites the imm8 at F3 + 3); ret. */
    private static byte[] smcFunction() {
        return new byte[] {0x48, (byte) 0x83, (byte) 0xC0, 0x05, (byte) 0xC3};
    }

    /** A 64-bit ALU r, r (never RSP or R14 as destination). */
    private static void alu(Random r, ByteArrayOutputStream out) {
        int[] ops = {0x01, 0x09, 0x11, 0x19, 0x21, 0x29, 0x31, 0x39, 0x85, 0x89};
        int dst = FREE[r.nextInt(FREE.length)], src = r.nextInt(16);
        out.write(0x48 | (src >> 3) << 2 | dst >> 3);
        out.write(ops[r.nextInt(ops.length)]);
        out.write(0xC0 | (src & 7) << 3 | (dst & 7));
    }

    private static void movImm64(ByteArrayOutputStream out, int reg, long v) {
        out.write(0x48 | (reg >> 3));
        out.write(0xB8 | (reg & 7));
        for (int i = 0; i < 8; i++) out.write((int) (v >>> (8 * i)));
    }

    private static void jmp(ByteArrayOutputStream out, long base, long target) {
        out.write(0xE9);
        putInt(out, (int) (target - (base + out.size() + 4)));
    }

    private static void putInt(ByteArrayOutputStream out, int v) {
        for (int i = 0; i < 4; i++) out.write(v >>> (8 * i));
    }

    private static void putLong(byte[] b, int at, long v) {
        for (int i = 0; i < 8; i++) b[at + i] = (byte) (v >>> (8 * i));
    }

    private static String hex(byte[] b) { return java.util.HexFormat.of().formatHex(b); }

    private static void load(NativeMemoryFormsTest.Machine m, byte[] main, byte[] f0, byte[] f1, byte[] data) {
        NativeMemoryFormsTest.load(m, main, data);
        m.mem.write(F0, f0);
        m.mem.write(F1, f1);
    }

    private static void load(NativeMemoryFormsTest.Machine m, byte[] main, byte[][] f, byte[] data) {
        NativeMemoryFormsTest.load(m, main, data);
        for (int i = 0; i < TARGETS.length; i++) m.mem.write(TARGETS[i], f[i]);
    }
}
