package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.nativecode.CodeCache;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.CODE;
import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.DATA;
import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.ENTRY;
import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.HALT;
import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.PAGES;
import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.REACH;
import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.REACH_END;
import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.READ_ONLY;
import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.UNMAPPED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The native tier's arithmetic and logic forms ({@link NativeAluForms}) against the interpreter, over the paged
 * guest of {@link NativeMemoryFormsTest}: random blocks of shifts and rotates (by 1, by CL and by an immediate, with
 * the counts 0, 1, 31, 32, 63, 64, 255 and random ones), NOT, NEG, MUL, IMUL (one, two and three operands), CMOVcc,
 * SETcc, XCHG r,r, BSWAP, BT/BTS/BTR/BTC, SHLD/SHRD, with register and memory operands at every size (AH..BH, RSP
 * and R15 among them), mixed with ALU and MOV forms; decoded on a first run with every pointer on a writable page
 * (so that blocks are decoded whole past the accesses that fault later), then run three times natively (the second
 * after a TLB flush, the third with read entries for every present data page, the read-only one too) and once on
 * the interpreter. GPRs, RIP, the stop (fault vector and error code) and the RAM must be equal, and the six arithmetic flags except those the SDM leaves undefined after the last instruction
 * that wrote them (the same flags {@code DifferentialCpuTest}'s groups mask: AF and OF of multi-bit shifts, CF of
 * SHL/SHR by the operand's width or more, SF ZF AF PF after MUL/IMUL, all but CF after BT): this host sets them
 * otherwise than the interpreter, and native code gives the host's. A flag reader (ADC, SBB, RCL, RCR, CMOVcc,
 * SETcc) never reads an undefined flag: the generator puts a CMP before it. {@code -Dflint.native.alu.cases=N},
 * {@code -Dflint.native.alu.seed=S}.
 */
class NativeAluFormsTest {
    private static final int[] VALUE = {0, 1, 2, 5, 8, 9, 10, 11, 14}; // RAX RCX RDX RBP R8-R11 R14
    private static final int[] POINTER = {3, 6, 12, 13, 4, 15};         // RBX RSI R12 R13 RSP R15
    private static final int INDEX = 7;                                 // RDI
    static final long CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;
    static final long STATUS = CF | PF | AF | ZF | SF | OF;
    private static final long RAM_END = 4L << 20; // NativeMemoryFormsTest's machine

    @Test
    void randomAluBlocksMatchTheInterpreter() {
        assumeTrue(CodeCache.unavailableReason().isEmpty(), () -> CodeCache.unavailableReason().orElseThrow());
        int cases = Integer.getInteger("flint.native.alu.cases", 8_000);
        long seed = Long.getLong("flint.native.alu.seed", 20261207L);
        Group r = runGroup(cases, seed, Gen::new);
        String summary = String.format("NATIVE_ALU: %d cases, %d instructions run natively, %d runs native from the "
                + "first instruction to the JMP, %d cases fault on the interpreter, %d skipped (a store outside the restored "
                + "range), %d divergences (seed %d)", cases, r.nativeInstructions, r.wholeRuns, r.faults, r.skipped,
                r.divergences.size(), seed);
        System.out.println(summary);
        assertEquals("", String.join("\n", r.divergences.stream().limit(5).toList()), summary);
        assertTrue(r.nativeInstructions >= 100_000 || cases < 8_000, summary);
        assertTrue(r.wholeRuns > cases, summary);
    }

    /** What a random group saw: instructions run natively, runs native whole, cases that fault (#DE among them). */
    record Group(long nativeInstructions, long wholeRuns, long faults, long divideErrors, long skipped,
                 List<String> divergences) {}

    /** Runs {@code cases} random blocks from {@code gens} natively and on the interpreter (see the class comment). */
    static Group runGroup(int cases, long seed, java.util.function.Function<Random, Gen> gens) {
        long nativeInstructions = 0, faults = 0, wholeRuns = 0, skipped = 0, divideErrors = 0;
        List<String> divergences = new ArrayList<>();
        for (int c = 0; c < cases; c++) {
            Random rnd = new Random(seed * 1_000_003L + c);
            Gen g = gens.apply(rnd);
            byte[] code = g.block();
            long[] gpr = new long[16];
            for (int r : VALUE) gpr[r] = value(rnd);
            for (int r : POINTER) gpr[r] = pointer(rnd);
            gpr[INDEX] = rnd.nextInt(64);
            g.registers(gpr, false);
            long rflags = 0x2 | (rnd.nextLong() & STATUS);
            byte[] data = new byte[PAGES * 4096];
            rnd.nextBytes(data);
            Outcome want;
            boolean wild;
            try (NativeMemoryFormsTest.Machine ref = new NativeMemoryFormsTest.Machine(false, false)) {
                NativeMemoryFormsTest.load(ref, code, data);
                ref.reset(gpr, rflags, ENTRY);
                byte[] outside = outsideReach(ref);
                want = Outcome.of(ref, ref.run(1));
                wild = !Arrays.equals(outside, outsideReach(ref));
            }
            if (wild) { // a pointer register got a value (RSP after XCHG, say) and a store hit the page tables or
                // the code: the runs below would not start from the same machine (only REACH is restored)
                skipped++;
                continue;
            }
            if (want.stop.startsWith("fault")) faults++;
            if (want.stop.startsWith("fault 0 ")) divideErrors++;
            // Flags left undefined: those after the block's end when it halts, any the block ever left undefined
            // when it faults somewhere inside.
            long mask = want.stop.startsWith("halt") ? g.pending : g.faultMask();
            try (NativeMemoryFormsTest.Machine m = new NativeMemoryFormsTest.Machine(true, true)) {
                NativeMemoryFormsTest.load(m, code, data);
                byte[] initial = new byte[(int) (REACH_END - REACH)];
                m.mem.read(REACH, initial, 0, initial.length);
                // Decodes the blocks, with every pointer on a writable page: a block the compared runs fault in
                // (the read-only or the not-present page) is then decoded whole and runs natively up to the fault.
                long[] warm = gpr.clone();
                for (int r : POINTER) warm[r] = DATA + 4096L * rnd.nextInt(PAGES - 3) + 256 + rnd.nextInt(2048);
                g.registers(warm, true);
                m.reset(warm, rflags, ENTRY);
                m.run(64);
                for (int run = 0; run < 3; run++) {
                    m.mem.write(REACH, initial);
                    if (run == 1) m.mmu.flushAll();
                    m.reset(gpr, rflags, ENTRY);
                    if (run == 2) { // read entries for every present data page, the read-only one too: a form that
                        // writes must still miss there (it probes the write row)
                        for (int p = 0; p < PAGES; p++) if (p != UNMAPPED) m.mmu.read1(DATA + 4096L * p);
                    }
                    long before = m.cpu.statistics().nativeInstructions();
                    Outcome got = Outcome.of(m, m.run(64));
                    long ran = m.cpu.statistics().nativeInstructions() - before;
                    nativeInstructions += ran;
                    if (ran >= g.instructions + 1) wholeRuns++; // the block and its JMP to HLT (and the entry JMP)
                    String why = got.differs(want, mask);
                    if (!why.isEmpty()) {
                        divergences.add("case " + c + " run " + run + " code " + HexFormat.of().formatHex(code) + " rflags "
                                + Long.toHexString(rflags) + " masked " + Long.toHexString(mask) + ":" + why + "\n  "
                                + String.join("\n  ", g.text));
                        break;
                    }
                }
            }
        }
        return new Group(nativeInstructions, wholeRuns, faults, divideErrors, skipped, divergences);
    }

    /**
     * The forms that write memory probe the soft TLB's write row: with only a read entry for a read-only page in
     * the TLB (Java read it just before), each of them, run natively after an instruction that did, exits at itself
     * and Java raises #PF with error code 3 there, memory unchanged: the interpreter's outcome. (A form probing the
     * read row would write the read-only page natively; the random group rarely holds a read entry for that page
     * when such a form runs.)
     */
    @Test
    void aFormWritingAReadOnlyPageFaultsAsOnTheInterpreter() {
        assumeTrue(CodeCache.unavailableReason().isEmpty(), () -> CodeCache.unavailableReason().orElseThrow());
        int[][] forms = {
                {0xD1, 0x23},             // shl dword [rbx], 1      (ModRM 00 100 011)
                {0x48, 0xC1, 0x0B, 0x05}, // ror qword [rbx], 5      (00 001 011)
                {0xD2, 0x3B},             // sar byte [rbx], cl      (00 111 011)
                {0x48, 0xD3, 0x13},       // rcl qword [rbx], cl     (00 010 011)
                {0x66, 0xF7, 0x13},       // not word [rbx]
                {0xF7, 0x1B},             // neg dword [rbx]
                {0x0F, 0x94, 0x03},       // setz byte [rbx]
                {0x0F, 0xBA, 0x2B, 0x03}, // bts dword [rbx], 3      (00 101 011)
                {0x0F, 0xA4, 0x13, 0x04}, // shld dword [rbx], edx, 4 (00 010 011)
                {0x48, 0x0F, 0xAD, 0x13}, // shrd qword [rbx], rdx, cl
        };
        long ok = DATA + 0x200, readOnly = DATA + 4096L * READ_ONLY + 0x10;
        for (int[] form : forms) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            for (int b : new int[] {0x48, 0x83, 0xC2, 0x01}) out.write(b); // add rdx, 1
            for (int b : form) out.write(b);
            long rel = HALT - (CODE + out.size() + 5);
            out.write(0xE9);
            for (int i = 0; i < 4; i++) out.write((int) (rel >>> (8 * i)));
            byte[] code = out.toByteArray();
            long[] gpr = new long[16];
            gpr[1] = 3;
            gpr[2] = 0x1234;
            gpr[3] = readOnly;
            String want;
            try (NativeMemoryFormsTest.Machine ref = new NativeMemoryFormsTest.Machine(false, false)) {
                ref.mem.write(CODE, code);
                ref.mem.write(HALT, new byte[] {(byte) 0xF4});
                ref.reset(gpr, 0x2, CODE);
                want = ref.run(1);
            }
            String what = HexFormat.of().formatHex(code);
            assertTrue(want.startsWith("fault 14 error 3 rip " + Long.toHexString(CODE + 4) + " "), what + ": " + want);
            try (NativeMemoryFormsTest.Machine m = new NativeMemoryFormsTest.Machine(true, true)) {
                m.mem.write(CODE, code);
                m.mem.write(HALT, new byte[] {(byte) 0xF4});
                long[] warm = gpr.clone();
                warm[3] = ok;
                long ran = 0;
                for (int run = 0; run < 4; run++) {
                    m.reset(warm, 0x2, CODE);
                    long before = m.cpu.statistics().nativeInstructions();
                    m.run(64);
                    ran = m.cpu.statistics().nativeInstructions() - before;
                }
                assertEquals(3, ran, what + ": the warm block runs natively whole");
                m.mem.write(DATA, new byte[PAGES * 4096]); // as the reference's RAM: the warm runs stored
                m.reset(gpr, 0x2, CODE);
                m.mmu.read4(readOnly); // a read entry for the read-only page, no write entry
                long before = m.cpu.statistics().nativeInstructions();
                String got = m.run(64);
                assertTrue(m.cpu.statistics().nativeInstructions() - before >= 1, what + ": the add ran natively");
                assertEquals(want, got, what);
            }
        }
    }

    /** The RAM outside [REACH, REACH_END) (page tables, GDT, code), without the bits the CPU sets itself. */
    private static byte[] outsideReach(NativeMemoryFormsTest.Machine m) {
        byte[] b = new byte[(int) REACH + (int) (RAM_END - REACH_END)];
        m.mem.read(0, b, 0, (int) REACH);
        m.mem.read(REACH_END, b, (int) REACH, (int) (RAM_END - REACH_END));
        for (int i = 0; i < 0x6000; i += 8) { // the walks' accessed/dirty bits, a descriptor's accessed bit
            b[i] &= (byte) ~0x60;
            b[i + 5] &= (byte) ~0x01;
        }
        return b;
    }

    /** A run's outcome: how it stopped, the registers, RIP, RFLAGS and the RAM the group can reach. */
    record Outcome(String stop, long[] gpr, long rip, long rflags, byte[] ram) {
        static Outcome of(NativeMemoryFormsTest.Machine m, String line) {
            byte[] ram = new byte[(int) (REACH_END - REACH)];
            m.mem.read(REACH, ram, 0, ram.length);
            return new Outcome(line.substring(0, line.indexOf(" rip ")), m.st.gpr.clone(), m.st.rip, m.st.flags.get(), ram);
        }

        String differs(Outcome want, long undefined) {
            String why = "";
            if (!stop.equals(want.stop)) why += " stop " + stop + " want " + want.stop;
            if (rip != want.rip) why += String.format(" rip %x want %x", rip, want.rip);
            for (int i = 0; i < 16; i++) {
                if (gpr[i] != want.gpr[i]) why += String.format(" gpr%d %x want %x", i, gpr[i], want.gpr[i]);
            }
            long keep = ~(undefined & STATUS);
            if ((rflags & keep) != (want.rflags & keep)) {
                why += String.format(" rflags %x want %x", rflags, want.rflags);
            }
            if (!Arrays.equals(ram, want.ram)) why += " ram differs";
            return why;
        }
    }

    static long value(Random r) {
        return switch (r.nextInt(7)) {
            case 0 -> 0;
            case 1 -> -1;
            case 2 -> 0x8000_0000_0000_0000L;
            case 3 -> 0x7FFF_FFFFL + r.nextInt(3) - 1;
            case 4 -> r.nextInt(256);
            case 5 -> 1L << r.nextInt(64);
            default -> r.nextLong();
        };
    }

    /** A data page (now and then the unmapped or the read-only one), now and then the decoded block's page. */
    static long pointer(Random r) {
        if (r.nextInt(16) == 0) return ENTRY + 0x800 + r.nextInt(0x700);
        int page = r.nextInt(40) == 0 ? UNMAPPED : r.nextInt(40) == 0 ? READ_ONLY : r.nextInt(PAGES - 3);
        return DATA + 4096L * page + 256 + r.nextInt(4096 - 512) + (r.nextInt(8) == 0 ? 250 : 0);
    }

    /** The generator of one block, with the arithmetic flags it leaves undefined. */
    static class Gen {
        final Random r;
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final List<String> text = new ArrayList<>();
        /** Flags undefined now (since the last instruction that defined them), and ever in the block. */
        long pending, ever;
        int instructions;

        Gen(Random r) { this.r = r; }

        /** The flags left undefined at a fault anywhere in the block (a generator that keeps them defined at every
         *  instruction that can fault may say fewer). */
        long faultMask() { return ever; }

        /** Sets registers the generator's blocks rely on, for the compared runs or the decoding run ({@code warm}). */
        void registers(long[] gpr, boolean warm) {}

        byte[] block() {
            int n = 1 + r.nextInt(16);
            for (int i = 0; i < n; i++) one();
            long rel = HALT - (CODE + out.size() + 5); // to a HLT on another page: the decoded block ends at the JMP
            out.write(0xE9);
            imm(rel, 4);
            return out.toByteArray();
        }

        /** An instruction changed the flags: {@code def} are now defined, {@code undef} undefined. */
        void flags(long def, long undef) {
            pending = (pending & ~def & ~undef) | undef;
            ever |= undef;
        }

        /** Before an instruction that reads flags: none of them may be undefined (a CMP defines all six). */
        void reader() {
            if (pending == 0) return;
            int a = VALUE[r.nextInt(VALUE.length)], b = VALUE[r.nextInt(VALUE.length)];
            text.add("cmp r" + a + ", r" + b);
            out.write(0x48 | (b >> 3) << 2 | a >> 3);
            out.write(0x39);
            out.write(0xC0 | (b & 7) << 3 | (a & 7));
            instructions++;
            flags(STATUS, 0);
        }

        void one() {
            int k = r.nextInt(100);
            if (k < 30) shift();
            else if (k < 40) unary();
            else if (k < 48) imul();
            else if (k < 54) cmov();
            else if (k < 60) setcc();
            else if (k < 66) xchg();
            else if (k < 70) bswap();
            else if (k < 77) bt();
            else if (k < 85) doubleShift();
            else if (k < 95) alu();
            else move();
            instructions++;
        }

        int size() { return new int[] {1, 2, 4, 8}[r.nextInt(4)]; }

        int count(int size) {
            int bits = size * 8;
            int[] edges = {0, 1, 2, bits - 1, bits, bits + 1, 31, 32, 33, 63, 64, 255};
            return switch (r.nextInt(3)) {
                case 0 -> edges[r.nextInt(edges.length)];
                case 1 -> r.nextInt(bits + 1);
                default -> r.nextInt(256);
            };
        }

        /** mov ecx, count (the count of a CL form, so that the generator knows the flags it leaves). */
        void movEcx(int count) {
            text.add("mov ecx, " + count);
            out.write(0xB9);
            imm(count, 4);
            instructions++;
        }

        void shift() {
            int size = size();
            int op = new int[] {0, 1, 2, 3, 4, 5, 6, 7}[r.nextInt(8)];
            int form = r.nextInt(3); // 0: by 1, 1: by CL, 2: by imm8
            int count = form == 0 ? 1 : count(size);
            if (form == 1) movEcx(count);
            if (op == 2 || op == 3) reader(); // RCL/RCR read CF
            int opcode = (size == 1 ? 0xD0 : 0xD1) + (form == 1 ? 2 : 0);
            if (form == 2) opcode = size == 1 ? 0xC0 : 0xC1;
            rm(size, false, opcode, op, true, form == 2 ? new long[] {count, 1} : null, r.nextInt(3) == 0, "shift /" + op
                    + " by " + count);
            int bits = size * 8, c = count & (size == 8 ? 63 : 31);
            if (c == 0) return;
            if (op <= 3) flags(CF | (c == 1 ? OF : 0), c == 1 ? 0 : OF);
            else {
                boolean cfUndefined = op != 7 && c >= bits;
                flags(SF | ZF | PF | (cfUndefined ? 0 : CF) | (c == 1 ? OF : 0), AF | (cfUndefined ? CF : 0) | (c == 1 ? 0 : OF));
            }
        }

        void unary() { // NOT NEG MUL IMUL
            int size = size(), ext = 2 + r.nextInt(4);
            rm(size, false, size == 1 ? 0xF6 : 0xF7, ext, true, null, r.nextInt(3) == 0, new String[] {"not", "neg", "mul", "imul"}[ext - 2]);
            if (ext == 3) flags(STATUS, 0);
            if (ext >= 4) flags(CF | OF, SF | ZF | AF | PF);
        }

        void imul() {
            int size = 2 << r.nextInt(3);
            switch (r.nextInt(3)) {
                case 0 -> rm(size, true, 0xAF, dst(), false, null, r.nextBoolean(), "imul r, r/m");
                case 1 -> rm(size, false, 0x69, dst(), false, new long[] {r.nextLong(), size == 2 ? 2 : 4}, r.nextBoolean(), "imul r, r/m, imm");
                default -> rm(size, false, 0x6B, dst(), false, new long[] {r.nextLong(), 1}, r.nextBoolean(), "imul r, r/m, imm8");
            }
            flags(CF | OF, SF | ZF | AF | PF);
        }

        void cmov() {
            reader();
            rm(2 << r.nextInt(3), true, 0x40 | r.nextInt(16), dst(), false, null, r.nextBoolean(), "cmovcc");
        }

        void setcc() {
            reader();
            rm(1, true, 0x90 | r.nextInt(16), r.nextInt(8), true, null, r.nextInt(3) == 0, "setcc");
        }

        void xchg() {
            if (r.nextInt(3) == 0) { // 90+r: XCHG rAX, r
                int size = 2 << r.nextInt(3), reg = VALUE[r.nextInt(VALUE.length)];
                if (r.nextInt(20) == 0) reg = 15;
                if (size == 2) out.write(0x66);
                int rex = 0x40 | (size == 8 ? 8 : 0) | reg >> 3;
                if (rex != 0x40) out.write(rex);
                out.write(0x90 | (reg & 7));
                text.add("xchg rax, r" + reg + " (" + size + ")");
                return;
            }
            int size = r.nextBoolean() ? 1 : 2 << r.nextInt(3);
            rm(size, false, size == 1 ? 0x86 : 0x87, dst(), false, null, false, "xchg r, r");
        }

        void bswap() {
            int size = r.nextBoolean() ? 4 : 8, reg = r.nextInt(20) == 0 ? 4 : VALUE[r.nextInt(VALUE.length)];
            int rex = 0x40 | (size == 8 ? 8 : 0) | reg >> 3;
            if (rex != 0x40) out.write(rex);
            out.write(0x0F);
            out.write(0xC8 | (reg & 7));
            text.add("bswap r" + reg + " (" + size + ")");
        }

        void bt() {
            int size = 2 << r.nextInt(3);
            if (r.nextBoolean()) {
                rm(size, true, new int[] {0xA3, 0xAB, 0xB3, 0xBB}[r.nextInt(4)], r.nextInt(16), false, null, false, "bt r, r");
            } else {
                rm(size, true, 0xBA, 4 + r.nextInt(4), true, new long[] {r.nextInt(256), 1}, r.nextInt(3) == 0, "bt r/m, imm8");
            }
            flags(CF, OF | SF | ZF | AF | PF);
        }

        void doubleShift() {
            int size = 2 << r.nextInt(3);
            boolean byCl = r.nextBoolean();
            int count;
            do {
                count = count(size);
            } while (size == 2 && (count & 31) > 16); // 16-bit counts above 16: the result is undefined
            if (byCl) movEcx(count);
            int opcode = (r.nextBoolean() ? 0xA4 : 0xAC) + (byCl ? 1 : 0);
            rm(size, true, opcode, r.nextInt(16), false, byCl ? null : new long[] {count, 1}, r.nextInt(3) == 0,
                    "shld/shrd by " + count);
            int c = count & (size == 8 ? 63 : 31);
            if (c != 0) flags(SF | ZF | PF | CF | (c == 1 ? OF : 0), AF | (c == 1 ? 0 : OF));
        }

        void alu() { // ADD OR ADC SBB AND SUB XOR CMP r/m, r (registers): ADC/SBB read CF
            int alu = r.nextInt(8);
            if (alu == 2 || alu == 3) reader();
            int size = size();
            rm(size, false, alu << 3 | (size == 1 ? 0 : 1), r.nextInt(16), false, null, false, "alu " + alu);
            flags(STATUS, 0);
        }

        void move() { // a load or a store (the memory forms of emumem) between the new forms
            int size = 2 << r.nextInt(3);
            rm(size, false, r.nextBoolean() ? 0x89 : 0x8B, dst(), false, null, true, "mov");
        }

        /** A destination register: a value register, now and then RSP or R15 (they go through a scratch register). */
        int dst() {
            return r.nextInt(20) == 0 ? (r.nextBoolean() ? 4 : 15) : VALUE[r.nextInt(VALUE.length)];
        }

        /**
         * Encodes [66] [REX] [0F] opcode ModRM [SIB] [disp] [imm]: ModRM.reg is {@code reg} (a register, or a /digit
         * when {@code digit}), ModRM.rm a register destination or, with {@code memory}, a memory operand of any
         * shape (base, base + index, RIP-relative, absolute). {@code imm} is {value, bytes} or null.
         */
        void rm(int size, boolean twoByte, int opcode, int reg, boolean digit, long[] imm, boolean memory, String what) {
            boolean legacy8 = size == 1 && r.nextInt(3) == 0; // AH..BH: no REX at all
            int base = -1, index = -1, rmReg = 0;
            int shape = r.nextInt(10); // 0-5 base, 6-7 base + index, 8 RIP-relative, 9 absolute
            if (memory) {
                if (shape < 8) base = POINTER[r.nextInt(POINTER.length)];
                if (shape == 6 || shape == 7) index = INDEX;
                if (legacy8 && base >= 8) base = 3;
            } else if (digit || r.nextInt(4) > 0) {
                rmReg = legacy8 ? new int[] {0, 1, 2, 4, 5, 6}[r.nextInt(6)] : dst(); // AL CL DL AH CH DH
            } else {
                rmReg = legacy8 ? r.nextInt(8) : r.nextInt(16); // a source in r/m (CMOVcc, IMUL, XCHG ...)
                if (!legacy8 && (rmReg == 3 || rmReg == 6 || rmReg == 7 || rmReg == 12 || rmReg == 13)) rmReg = 0;
            }
            if (legacy8) reg &= 7;
            if (legacy8 && !digit) reg = new int[] {0, 1, 2, 4, 5, 6}[r.nextInt(6)];
            if (!digit && !memory && (opcode == 0x86 || opcode == 0x87)) { // XCHG writes both: no pointers
                reg = legacy8 ? reg : dst();
            }
            boolean writesReg = !digit && !(twoByte && (opcode == 0xA3 || opcode == 0xAB || opcode == 0xB3 || opcode == 0xBB
                    || opcode == 0xA4 || opcode == 0xA5 || opcode == 0xAC || opcode == 0xAD)) && opcode != 0x89
                    && !(opcode < 0x40 && (opcode & 2) == 0);
            if (writesReg && !legacy8 && (reg == 3 || reg == 6 || reg == 7 || reg == 12 || reg == 13)) reg = 0;
            int rex = 0x40 | (size == 8 ? 8 : 0) | (!digit && reg >= 8 ? 4 : 0) | (index >= 8 ? 2 : 0)
                    | ((memory ? base : rmReg) >= 8 ? 1 : 0);
            if (size == 2) out.write(0x66);
            if (!legacy8 && (rex != 0x40 || size == 1)) out.write(rex);
            if (twoByte) out.write(0x0F);
            out.write(opcode);
            int immBytes = imm == null ? 0 : (int) imm[1];
            String where;
            if (!memory) {
                out.write(0xC0 | (reg & 7) << 3 | (rmReg & 7));
                where = "r" + rmReg;
            } else if (shape == 8) { // RIP-relative to a data pointer
                out.write((reg & 7) << 3 | 5);
                long target = pointer(r);
                long end = CODE + out.size() + 4 + immBytes;
                imm(target - end, 4);
                where = String.format("[%x]", target);
            } else if (shape == 9) { // absolute, [disp32] through a SIB without base or index
                out.write((reg & 7) << 3 | 4);
                out.write(0x25);
                long target = pointer(r);
                imm(target, 4);
                where = String.format("[%x]", target);
            } else {
                int disp = switch (r.nextInt(3)) {
                    case 0 -> 0;
                    case 1 -> r.nextInt(128) - 64;
                    default -> r.nextInt(512) - 256;
                };
                int scale = r.nextInt(4);
                int mod = disp == 0 && (base & 7) != 5 ? 0 : disp >= -128 && disp <= 127 ? 1 : 2;
                boolean sib = index >= 0 || (base & 7) == 4;
                out.write(mod << 6 | (reg & 7) << 3 | (sib ? 4 : base & 7));
                if (sib) out.write(scale << 6 | (index >= 0 ? index & 7 : 4) << 3 | (base & 7));
                if (mod == 1) out.write(disp);
                if (mod == 2) imm(disp, 4);
                where = "[r" + base + (index >= 0 ? "+r" + index + "*" + (1 << scale) : "") + "+" + disp + "]";
            }
            if (imm != null) imm(imm[0], immBytes);
            text.add(what + " size " + size + (legacy8 ? " (no REX)" : "") + " reg " + reg + " rm " + where);
        }

        void imm(long v, int bytes) {
            for (int i = 0; i < bytes; i++) out.write((int) (v >>> (8 * i)));
        }
    }
}
