package dev.flint.engine.emu.diff;

import dev.flint.engine.emu.diff.Operand.Mem;
import java.util.Random;

/**
 * x87 sequences. The setup runs FNINIT, loads a control word with every exception masked and a random
 * precision and rounding control, and pushes three values from the data page; the tested part mixes
 * arithmetic (register and memory forms, with and without pop), unary ops, exchanges, constant loads,
 * FCOMI/FUCOMI (which set RFLAGS), FCOM/FUCOM/FTST/FXAM and FPREM/FPREM1 followed by FNSTSW m16 (all
 * condition codes are defined right after those) and stores. At the end FNSTSW AX captures the status
 * word, masked to what is defined (exception flags, stack fault, summary, TOP; the condition codes are
 * left out), and the
 * remaining stack is stored as 80-bit values into the data page, so the comparison sees every register.
 * Transcendentals (FSIN, FPTAN, F2XM1 ...) are left out: their last bits differ between vendors.
 */
final class X87Group {
    /** Where the final stack is spilled as 80-bit values. */
    private static final int SPILL = 0xE00;
    private static final String[] ARITH = {"fadd", "fmul", "fcom", "fcomp", "fsub", "fsubr", "fdiv", "fdivr"};

    private X87Group() {}

    static int prepare(SequenceBuilder b) {
        Random rnd = b.rnd;
        b.setup(new byte[] {(byte) 0xDB, (byte) 0xE3}, "fninit");
        int cw = 0x7F | new int[] {0, 2, 3}[rnd.nextInt(3)] << 8 | rnd.nextInt(4) << 10;   // PC=01 is reserved
        Mem m = b.memAt(2, false, 0, SPILL);
        b.setup(Encoder.modrm(b.pc(), new int[] {0x66}, false, new int[] {0xC7}, 0, null, m, cw, 2),
                String.format("mov %s, 0x%x", m, cw));
        b.setup(Encoder.modrm(b.pc(), new int[0], false, new int[] {0xD9}, 5, null, m, 0, 0), "fldcw " + m);
        for (int i = 0; i < 3; i++) {
            load(b, false);
        }
        return 3;
    }

    /** FLD m32/m64 or FILD m16/m32/m64 from the data page. */
    private static void load(SequenceBuilder b, boolean tested) {
        Random rnd = b.rnd;
        int kind = rnd.nextInt(5);
        int[][] enc = {{0xD9, 0}, {0xDD, 0}, {0xDF, 0}, {0xDB, 0}, {0xDF, 5}};
        int[] size = {4, 8, 2, 4, 8};
        String[] name = {"fld dword", "fld qword", "fild word", "fild dword", "fild qword"};
        Mem m = b.memAt(size[kind], false, 0, SPILL);
        byte[] bytes = Encoder.modrm(b.pc(), new int[0], false, new int[] {enc[kind][0]}, enc[kind][1], null, m, 0, 0);
        if (tested) {
            b.insn(bytes, name[kind] + " " + m, 0, 0);
        } else {
            b.setup(bytes, name[kind] + " " + m);
        }
    }

    /** One tested x87 instruction; returns the new stack depth. */
    static int step(SequenceBuilder b, int depth) {
        Random rnd = b.rnd;
        int i = rnd.nextInt(depth);                                // st(i) within the stack
        switch (rnd.nextInt(11)) {
            case 10 -> {                                           // compare/classify, then FNSTSW m16: C0-C3 all defined here
                int k = rnd.nextInt(6);
                int[][] enc = {{0xD8, 0xD0 | i}, {0xDD, 0xE0 | i}, {0xD9, 0xE4}, {0xD9, 0xE5}, {0xD8, 0xD8 | i}, {0xDE, 0xD9}};
                String[] names = {"fcom st(" + i + ")", "fucom st(" + i + ")", "ftst", "fxam", "fcomp st(" + i + ")", "fcompp"};
                int pops = k == 4 ? 1 : k == 5 ? 2 : 0;
                if (depth - pops < 1 || (k == 5 && depth < 2)) {
                    k = 2;
                    pops = 0;
                }
                b.insn(new byte[] {(byte) enc[k][0], (byte) enc[k][1]}, names[k], 0, 0);
                Mem m = b.memAt(2, false, 0, SPILL);
                b.insn(Encoder.modrm(b.pc(), new int[0], false, new int[] {0xDD}, 7, null, m, 0, 0), "fnstsw " + m, 0, 0);
                return depth - pops;
            }
            case 0, 1 -> {                                         // op st(0), st(i) / op st(i), st(0) / op-and-pop
                int op = new int[] {0, 1, 4, 5, 6, 7}[rnd.nextInt(6)];
                int form = depth >= 2 ? rnd.nextInt(3) : 0;
                if (form == 2 && i == 0) {
                    i = 1;
                }
                int opcode = new int[] {0xD8, 0xDC, 0xDE}[form];
                b.insn(new byte[] {(byte) opcode, (byte) (0xC0 | op << 3 | i)},
                        ARITH[op] + (form == 2 ? "p st(" + i + "), st" : form == 1 ? " st(" + i + "), st" : " st, st(" + i + ")"),
                        0, 0);
                return form == 2 ? depth - 1 : depth;
            }
            case 2 -> {                                            // op st(0), m32/m64 or integer m16/m32
                int op = new int[] {0, 1, 4, 5, 6, 7}[rnd.nextInt(6)];
                int kind = rnd.nextInt(4);
                int[] opcode = {0xD8, 0xDC, 0xDA, 0xDE};
                int[] size = {4, 8, 4, 2};
                Mem m = b.memAt(size[kind], false, 0, SPILL);
                b.insn(Encoder.modrm(b.pc(), new int[0], false, new int[] {opcode[kind]}, op, null, m, 0, 0),
                        (kind >= 2 ? "fi" + ARITH[op].substring(1) : ARITH[op]) + " " + m, 0, 0);
                return depth;
            }
            case 3 -> {                                            // unary on st(0)
                int[] ops = {0xE0, 0xE1, 0xFA, 0xFC};
                String[] names = {"fchs", "fabs", "fsqrt", "frndint"};
                int k = rnd.nextInt(ops.length);
                b.insn(new byte[] {(byte) 0xD9, (byte) ops[k]}, names[k], 0, 0);
                return depth;
            }
            case 4 -> {                                            // FSCALE / FPREM / FPREM1 need st(1)
                if (depth < 2) {
                    return step(b, depth);
                }
                int[] ops = {0xFD, 0xF8, 0xF5};
                String[] names = {"fscale", "fprem", "fprem1"};
                int k = rnd.nextInt(3);
                b.insn(new byte[] {(byte) 0xD9, (byte) ops[k]}, names[k], 0, 0);
                if (k > 0) {                                       // FPREM's C2 (incomplete) and quotient bits
                    Mem m = b.memAt(2, false, 0, SPILL);
                    b.insn(Encoder.modrm(b.pc(), new int[0], false, new int[] {0xDD}, 7, null, m, 0, 0), "fnstsw " + m, 0, 0);
                }
                return depth;
            }
            case 5 -> {                                            // FXCH, FLD st(i), constants
                if (rnd.nextBoolean()) {
                    b.insn(new byte[] {(byte) 0xD9, (byte) (0xC8 | i)}, "fxch st(" + i + ")", 0, 0);
                    return depth;
                }
                if (depth >= 7) {
                    return depth;
                }
                int k = rnd.nextInt(8);
                int[] ops = {0xC0 | i, 0xE8, 0xE9, 0xEA, 0xEB, 0xEC, 0xED, 0xEE};
                String[] names = {"fld st(" + i + ")", "fld1", "fldl2t", "fldl2e", "fldpi", "fldlg2", "fldln2", "fldz"};
                b.insn(new byte[] {(byte) 0xD9, (byte) ops[k]}, names[k], 0, 0);
                return depth + 1;
            }
            case 6 -> {                                            // FCOMI/FUCOMI (+P): ZF PF CF, OF SF AF cleared
                boolean pop = depth >= 2 && rnd.nextBoolean();
                boolean unordered = rnd.nextBoolean();
                int opcode = pop ? 0xDF : 0xDB;
                b.insn(new byte[] {(byte) opcode, (byte) ((unordered ? 0xE8 : 0xF0) | i)},
                        (unordered ? "fucomi" : "fcomi") + (pop ? "p" : "") + " st, st(" + i + ")", Flags.STATUS, 0);
                return pop ? depth - 1 : depth;
            }
            case 7 -> {                                            // stores: FST/FSTP m32/m64/m80, FIST/FISTP, FBSTP
                int kind = rnd.nextInt(8);
                int[][] enc = {{0xD9, 2}, {0xDD, 2}, {0xD9, 3}, {0xDD, 3}, {0xDB, 7}, {0xDB, 2}, {0xDF, 7}, {0xDF, 6}};
                int[] size = {4, 8, 4, 8, 10, 4, 8, 10};
                boolean[] pops = {false, false, true, true, true, false, true, true};
                String[] names = {"fst dword", "fst qword", "fstp dword", "fstp qword", "fstp tbyte", "fist dword", "fistp qword",
                    "fbstp tbyte"};
                if (pops[kind] && depth < 2) {
                    kind = 0;
                }
                Mem m = b.memAt(size[kind], false, 0, SPILL);
                b.insn(Encoder.modrm(b.pc(), new int[0], false, new int[] {enc[kind][0]}, enc[kind][1], null, m, 0, 0),
                        names[kind] + " " + m, 0, 0);
                return pops[kind] ? depth - 1 : depth;
            }
            default -> {
                if (depth >= 7) {
                    return depth;
                }
                load(b, true);
                return depth + 1;
            }
        }
    }

    /** FNSTSW AX masked to its defined bits, then every remaining register stored as 80 bits. */
    static void finish(SequenceBuilder b, int depth) {
        b.setup(new byte[] {(byte) 0xDF, (byte) 0xE0}, "fnstsw ax");
        b.setup(Encoder.plain(new int[] {0x66, 0x25}, 0x38FF, 2), "and ax, 0x38ff (exceptions, SF, ES, TOP)",
                Flags.STATUS & ~Flags.AF, Flags.AF);
        for (int k = 0; k < depth; k++) {
            Mem m = new Mem(-1, -1, 1, b.layout.data() + SPILL + 10L * k, 10, true);
            b.setup(Encoder.modrm(b.pc(), new int[0], false, new int[] {0xDB}, 7, null, m, 0, 0), "fstp " + m);
        }
    }
}
