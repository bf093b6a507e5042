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
 * The native tier's stack forms ({@link NativeStackForms}: PUSH r, POP r, PUSH imm, CALL rel32, RET, RET imm16)
 * against the interpreter over the paged guest of {@link NativeMemoryFormsTest}: random programs of pushes, pops,
 * register ALU forms and calls into two functions (one on the caller's page, one on another page; one calls the
 * other, each returns with RET or RET imm16 releasing the arguments its callers pushed), with RSP in the middle of a
 * data page, near a page start (pushes go on into the page below), misaligned at a page end (an access crossing
 * it), on the unmapped or read-only page or above it (#PF), or in the page of a decoded block (a push into code).
 * Registers, RIP, RFLAGS, the stop and RAM must equal the interpreter's. {@code -Dflint.native.stack.cases=N}.
 */
class NativeStackFormsTest {
    /** The callees: F0 on the caller's page, F1 on another page. */
    static final long F0 = CODE + 0x800, F1 = 0x11_0000L;
    private static final int[] VALUE = {0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}; // all but RSP, R15
    private static final int R15 = 15;

    private static boolean available() { return CodeCache.unavailableReason().isEmpty(); }

    // ------------------------------------------------------------------ targeted

    /** A loop calling a function on its page: the CALL is chained to the callee, every instruction runs natively. */
    @Test
    void aCallLoopRunsNativelyWithTheInterpretersOutcome() {
        assumeTrue(available(), () -> CodeCache.unavailableReason().orElseThrow());
        ByteArrayOutputStream main = new ByteArrayOutputStream();
        // L: push rcx; call F0; pop rcx; dec ecx; jnz L; jmp HALT
        main.write(0x51);
        call(main, CODE, F0);
        main.write(0x59);
        main.write(0xFF); main.write(0xC9);
        main.write(0x75); main.write(-(main.size() + 1) & 0xFF);
        jmp(main, CODE, HALT);
        byte[] f0 = {0x48, (byte) 0x83, (byte) 0xC0, 0x03, 0x50, 0x58, (byte) 0xC3}; // add rax, 3; push rax; pop rax; ret
        long[] gpr = new long[16];
        gpr[1] = 1000;
        gpr[4] = DATA + 0x800;
        String want = interpreter(main.toByteArray(), f0, new byte[] {(byte) 0xC3}, gpr, 4096);
        try (NativeMemoryFormsTest.Machine m = new NativeMemoryFormsTest.Machine(true, true)) {
            load(m, main.toByteArray(), f0, new byte[] {(byte) 0xC3}, new byte[PAGES * 4096]);
            m.reset(gpr, 0x2, ENTRY);
            String got = m.run(4096);
            assertEquals(want, got);
            assertEquals(3000, m.st.gpr[0]);
            long ran = m.cpu.statistics().nativeInstructions();
            assertTrue(ran > 7_500, "instructions run natively: " + ran);
            assertTrue(m.cpu.nativeChains().made() >= 2, "chains made: " + m.cpu.nativeChains().made());
        }
    }

    /**
     * A push, a pop and a RET with RSP on the unmapped page, and a push on the read-only one, after warm native runs:
     * the block exits at the instruction, Java raises #PF with the interpreter's error code, RIP at the instruction,
     * RSP unchanged, the instruction before it done natively.
     */
    @Test
    void aStackOnAnUnmappedOrReadOnlyPageFaultsInJavaWithTheErrorCodeAndRip() {
        assumeTrue(available(), () -> CodeCache.unavailableReason().orElseThrow());
        byte[] add = {0x48, (byte) 0x83, (byte) 0xC2, 0x01}; // add rdx, 1
        long unmapped = DATA + 4096L * UNMAPPED + 0x800, readOnly = DATA + 4096L * READ_ONLY + 0x800;
        long crossing = DATA + 4096L * UNMAPPED + 4; // a push's first byte on page 12, its last on 13
        byte[][] forms = {{0x53}, {0x5B}, {0x6A, 0x7F}, {(byte) 0xC3}, {0x41, 0x57}, {0x53}};
        long[] stacks = {unmapped, unmapped, readOnly, unmapped, readOnly, crossing};
        int[] errors = {2, 0, 3, 0, 3, 2};
        for (int k = 0; k < forms.length; k++) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            out.write(add, 0, add.length);
            out.write(forms[k], 0, forms[k].length);
            if (forms[k][0] != (byte) 0xC3) jmp(out, CODE, HALT);
            byte[] code = out.toByteArray();
            long[] gpr = new long[16];
            gpr[2] = -1;
            gpr[3] = 0x1234;
            gpr[15] = 0x5678;
            gpr[4] = stacks[k];
            String want = interpreter(code, new byte[] {(byte) 0xC3}, new byte[] {(byte) 0xC3}, gpr, 1);
            assertTrue(want.startsWith("fault 14 error " + errors[k] + " rip " + Long.toHexString(CODE + 4) + " "), want);
            try (NativeMemoryFormsTest.Machine m = new NativeMemoryFormsTest.Machine(true, true)) {
                byte[] data = new byte[PAGES * 4096];
                long ret = HALT; // what the RET form pops on the good stack
                for (int i = 0; i < 8; i++) data[0x800 + i] = (byte) (ret >>> (8 * i));
                if (stacks[k] == crossing) data = new byte[PAGES * 4096];
                load(m, code, new byte[] {(byte) 0xC3}, new byte[] {(byte) 0xC3}, data);
                long[] warm = gpr.clone();
                warm[4] = stacks[k] == crossing ? crossing - 0x800 : DATA + 0x800; // page 12's TLB entry for the crossing one
                long before = 0;
                for (int run = 0; run < 3; run++) {
                    m.mem.write(DATA, data);
                    m.reset(warm, 0x2, ENTRY);
                    m.run(64);
                }
                m.mem.write(DATA, data);
                m.reset(warm, 0x2, CODE);
                before = m.cpu.statistics().nativeInstructions();
                m.run(64);
                assertEquals(forms[k][0] == (byte) 0xC3 ? 2 : 3, m.cpu.statistics().nativeInstructions() - before,
                        "form " + k + " ran natively when warm");
                m.mem.write(DATA, new byte[PAGES * 4096]);
                m.reset(gpr, 0x2, ENTRY);
                before = m.cpu.statistics().nativeInstructions();
                String got = m.run(64);
                assertTrue(m.cpu.statistics().nativeInstructions() - before >= 1, "the add ran natively");
                assertEquals(want, got, "form " + k);
                assertEquals(stacks[k], m.st.gpr[4], "RSP unchanged");
            }
        }
    }

    /**
     * A native push into the code of a decoded block (B at ENTRY: mov rax, imm64; jmp CODE; CODE: push rcx; jmp HALT,
     * RSP just above B's imm64) exits to Java at the code mark, whose store bumps the page's version: B's next run
     * is decoded again and loads what the run before pushed.
     */
    @Test
    void aPushIntoDecodedCodeIsSeenByThatCodesNextRun() {
        assumeTrue(available(), () -> CodeCache.unavailableReason().orElseThrow());
        try (NativeMemoryFormsTest.Machine m = new NativeMemoryFormsTest.Machine(true, true)) {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            b.write(0x48); b.write(0xB8);
            for (int i = 0; i < 8; i++) b.write(0);
            jmp(b, ENTRY, CODE);
            ByteArrayOutputStream a = new ByteArrayOutputStream();
            a.write(0x48); a.write(0x83); a.write(0xC2); a.write(0x01); // add rdx, 1
            a.write(0x51);                                              // push rcx
            jmp(a, CODE, HALT);
            m.mem.write(ENTRY, b.toByteArray());
            m.mem.write(CODE, a.toByteArray());
            m.mem.write(HALT, new byte[] {(byte) 0xF4});
            long stored = 0, nativeRan = 0;
            for (int run = 0; run < 6; run++) {
                long[] gpr = new long[16];
                gpr[1] = 0x1122_3344_5566_0040L + run;
                gpr[4] = ENTRY + 10; // the push writes B's imm64
                m.reset(gpr, 0x2, ENTRY);
                long before = m.cpu.statistics().nativeInstructions();
                m.run(64);
                nativeRan += m.cpu.statistics().nativeInstructions() - before;
                assertEquals(stored, m.st.gpr[0], "run " + run + ": rax is what the run before pushed");
                assertEquals(ENTRY + 2, m.st.gpr[4], "run " + run + ": rsp");
                stored = gpr[1];
            }
            assertTrue(nativeRan >= 4, "the add before the push ran natively: " + nativeRan);
        }
    }

    // ------------------------------------------------------------------ the random group

    @Test
    void randomCallRetPushPopProgramsMatchTheInterpreter() {
        assumeTrue(available(), () -> CodeCache.unavailableReason().orElseThrow());
        int cases = Integer.getInteger("flint.native.stack.cases", 3_000);
        long seed = Long.getLong("flint.native.stack.seed", 20261207L);
        long nativeInstructions = 0, faults = 0, nativeFaults = 0, chains = 0;
        List<String> divergences = new ArrayList<>();
        for (int c = 0; c < cases; c++) {
            Random rnd = new Random(seed * 1_000_003L + c);
            int release0 = rnd.nextInt(3), release1 = rnd.nextInt(3);
            byte[] f1 = function(rnd, F1, -1, 0, release1);
            byte[] f0 = function(rnd, F0, F1, release1, release0);
            byte[] main = program(rnd, release0, release1);
            long[] gpr = new long[16];
            for (int r = 0; r < 16; r++) gpr[r] = rnd.nextInt(4) == 0 ? rnd.nextInt(256) : rnd.nextLong();
            gpr[4] = stack(rnd);
            long rflags = 0x2 | (rnd.nextLong() & Flags.ARITH);
            byte[] data = new byte[PAGES * 4096];
            rnd.nextBytes(data);
            String want;
            try (NativeMemoryFormsTest.Machine ref = new NativeMemoryFormsTest.Machine(false, false)) {
                load(ref, main, f0, f1, data);
                ref.reset(gpr, rflags, ENTRY);
                want = ref.run(1);
            }
            if (want.startsWith("fault")) faults++;
            try (NativeMemoryFormsTest.Machine m = new NativeMemoryFormsTest.Machine(true, true)) {
                load(m, main, f0, f1, data);
                byte[] initial = new byte[(int) (REACH_END - REACH)];
                m.mem.read(REACH, initial, 0, initial.length);
                // A warm run on the middle of the page the first push writes (its TLB entries filled, the blocks
                // decoded whole even where the case's own stack faults), then the case's stack.
                long[] warm = gpr.clone();
                warm[4] = ((gpr[4] - 8) & ~0xFFFL) + 0x800;
                m.reset(warm, rflags, ENTRY);
                m.run(64);
                m.mem.write(REACH, initial);
                m.reset(gpr, rflags, ENTRY);
                m.run(64); // decodes
                for (int run = 0; run < 3; run++) {
                    m.mem.write(REACH, initial);
                    if (run == 1) m.mmu.flushAll();
                    m.reset(gpr, rflags, ENTRY);
                    long before = m.cpu.statistics().nativeInstructions();
                    String got = m.run(64);
                    long ran = m.cpu.statistics().nativeInstructions() - before;
                    nativeInstructions += ran;
                    if (ran > 0 && got.startsWith("fault")) nativeFaults++;
                    if (!got.equals(want)) {
                        divergences.add("case " + c + " run " + run + "\n  main " + hex(main) + "\n  f0 " + hex(f0) + "\n  f1 "
                                + hex(f1) + "\n  rsp " + Long.toHexString(gpr[4]) + "\n  native " + got + "\n  interp " + want);
                        break;
                    }
                }
                chains += m.cpu.nativeChains().made();
            }
        }
        String summary = String.format("NATIVE_STACK: %d cases, %d instructions run natively, %d chains made, %d cases "
                + "fault on the interpreter, %d native runs ended by a fault Java raised after a native exit, %d "
                + "divergences (seed %d)", cases, nativeInstructions, chains, faults, nativeFaults, divergences.size(), seed);
        System.out.println(summary);
        assertEquals("", String.join("\n", divergences.stream().limit(5).toList()), summary);
        assertTrue(nativeInstructions >= 20 * cases, summary);
        assertTrue(nativeFaults > 0 && chains > 0, summary);
    }

    /** RSP: mostly inside a data page, sometimes where pushes cross into the page below, fault, or hit code. */
    private static long stack(Random r) {
        int page = r.nextInt(PAGES - 4) + 1; // 1..12: a mapped page below it
        return switch (r.nextInt(20)) {
            case 0, 1 -> DATA + 4096L * page + 8L * r.nextInt(4);                 // pushes go on into page - 1
            case 2 -> DATA + 4096L * page + 4 + 8L * r.nextInt(2);                // misaligned: a push crosses
            case 3 -> DATA + 4096L * UNMAPPED + 0x800;                            // not present
            case 4 -> DATA + 4096L * READ_ONLY + 0x800;                           // pushes fault, pops read
            case 5 -> DATA + 4096L * UNMAPPED - 8L * r.nextInt(3);               // pops run into the unmapped page
            case 6 -> ENTRY + 0x800 + 8L * r.nextInt(32);                         // the decoded block's page
            case 7 -> DATA + 4096L * UNMAPPED + (r.nextBoolean() ? 4 : -4);       // an access crossing into it
            default -> DATA + 4096L * page + 256 + 8L * r.nextInt(400);
        };
    }

    /** The main program: pushes, pops, ALU, calls with their arguments pushed; then a JMP to HLT. */
    private static byte[] program(Random r, int release0, int release1) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int n = 1 + r.nextInt(16);
        for (int i = 0; i < n; i++) {
            int k = r.nextInt(10);
            if (k < 3) stackOp(r, out);
            else if (k < 6) alu(r, out);
            else {
                boolean far = r.nextInt(3) == 0;
                for (int a = 0; a < (far ? release1 : release0); a++) push(r, out);
                call(out, CODE, far ? F1 : F0);
            }
        }
        jmp(out, CODE, HALT);
        return out.toByteArray();
    }

    /** A function at {@code at}: balanced pushes and pops around ALU forms, maybe a call, RET [imm16]. */
    private static byte[] function(Random r, long at, long callee, int calleeRelease, int release) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int depth = 0, n = r.nextInt(10);
        for (int i = 0; i < n; i++) {
            int k = r.nextInt(6);
            if (k < 2) { push(r, out); depth++; }
            else if (k < 3 && depth > 0) { pop(r, out); depth--; }
            else if (k < 4 && callee >= 0) {
                for (int a = 0; a < calleeRelease; a++) push(r, out);
                call(out, at, callee);
            } else alu(r, out);
        }
        for (; depth > 0; depth--) pop(r, out);
        if (release == 0 && r.nextBoolean()) out.write(0xC3);
        else {
            out.write(0xC2);
            out.write(8 * release);
            out.write(0);
        }
        return out.toByteArray();
    }

    private static void stackOp(Random r, ByteArrayOutputStream out) {
        if (r.nextBoolean()) push(r, out);
        else pop(r, out);
    }

    private static void push(Random r, ByteArrayOutputStream out) {
        switch (r.nextInt(4)) {
            case 0 -> { out.write(0x6A); out.write(r.nextInt(256)); }
            case 1 -> { out.write(0x68); putInt(out, r.nextInt()); }
            default -> {
                int reg = r.nextInt(5) == 0 ? R15 : VALUE[r.nextInt(VALUE.length)];
                if (reg >= 8) out.write(0x41);
                out.write(0x50 | (reg & 7));
            }
        }
    }

    private static void pop(Random r, ByteArrayOutputStream out) {
        int reg = r.nextInt(5) == 0 ? R15 : VALUE[r.nextInt(VALUE.length)];
        if (reg >= 8) out.write(0x41);
        out.write(0x58 | (reg & 7));
    }

    /** A 64-bit ALU r, r (never RSP as destination). */
    private static void alu(Random r, ByteArrayOutputStream out) {
        int[] ops = {0x01, 0x09, 0x11, 0x19, 0x21, 0x29, 0x31, 0x39, 0x85, 0x89};
        int dst = r.nextInt(6) == 0 ? R15 : VALUE[r.nextInt(VALUE.length)], src = r.nextInt(16);
        out.write(0x48 | (src >> 3) << 2 | dst >> 3);
        out.write(ops[r.nextInt(ops.length)]);
        out.write(0xC0 | (src & 7) << 3 | (dst & 7));
    }

    private static void call(ByteArrayOutputStream out, long base, long target) {
        out.write(0xE8);
        putInt(out, (int) (target - (base + out.size() + 4)));
    }

    private static void jmp(ByteArrayOutputStream out, long base, long target) {
        out.write(0xE9);
        putInt(out, (int) (target - (base + out.size() + 4)));
    }

    private static void putInt(ByteArrayOutputStream out, int v) {
        for (int i = 0; i < 4; i++) out.write(v >>> (8 * i));
    }

    private static String hex(byte[] b) { return java.util.HexFormat.of().formatHex(b); }

    static void load(NativeMemoryFormsTest.Machine m, byte[] main, byte[] f0, byte[] f1, byte[] data) {
        NativeMemoryFormsTest.load(m, main, data);
        m.mem.write(F0, f0);
        m.mem.write(F1, f1);
    }

    /** The interpreter's outcome (RFLAGS 0x2 at the start), run in slices of {@code slice}. */
    private static String interpreter(byte[] main, byte[] f0, byte[] f1, long[] gpr, int slice) {
        try (NativeMemoryFormsTest.Machine ref = new NativeMemoryFormsTest.Machine(false, false)) {
            load(ref, main, f0, f1, new byte[PAGES * 4096]);
            ref.reset(gpr, 0x2, ENTRY);
            return ref.run(slice);
        }
    }
}
