package dev.flint.engine.emu.diff;

import static dev.flint.engine.emu.diff.Emit.*;
import static dev.flint.engine.emu.diff.Flags.AF;
import static dev.flint.engine.emu.diff.Flags.CF;
import static dev.flint.engine.emu.diff.Flags.OF;
import static dev.flint.engine.emu.diff.Flags.PF;
import static dev.flint.engine.emu.diff.Flags.SF;
import static dev.flint.engine.emu.diff.Flags.STATUS;
import static dev.flint.engine.emu.diff.Flags.ZF;

import dev.flint.engine.emu.diff.Operand.Mem;
import dev.flint.engine.emu.diff.Operand.Reg;
import java.util.Random;

/**
 * ALU, shifts and rotates, MUL/IMUL/DIV/IDIV, bit operations and sign conversions.
 * Emitters as described in {@link Emit}.
 */
final class ArithmeticGroups {
    private ArithmeticGroups() {}

    // ---- ALU: ADD/ADC/SUB/SBB/AND/OR/XOR/CMP/TEST/INC/DEC/NEG/NOT --------------------------------

    static void alu(SequenceBuilder b) {
        Random rnd = b.rnd;
        int size = pickSize(rnd);
        boolean l8 = legacy8(rnd, size);
        int kind = rnd.nextInt(7);
        switch (kind) {
            case 0, 1, 2, 3 -> {
                int op = rnd.nextInt(8);
                boolean writes = op != 7;
                long def = (op == 1 || op == 4 || op == 6) ? LOGIC_DEF : STATUS;
                long undef = (op == 1 || op == 4 || op == 6) ? AF : 0;
                b.needFlags(op == 2 || op == 3 ? CF : 0);
                String name = ALU_NAMES[op];
                if (kind == 0) {                                   // op r/m, reg
                    Operand dst = writes ? b.destRm(size, l8) : b.srcRm(size, l8);
                    Reg src = b.src(size, l8);
                    int lock = writes && dst instanceof Mem && rnd.nextBoolean() ? 0xF0 : 0;
                    byte[] bytes = rm(b, lock, size, new int[] {op * 8}, new int[] {op * 8 + 1}, src.code(), src, dst, 0, 0);
                    b.insn(bytes, (lock != 0 ? "lock " : "") + name + " " + dst + ", " + src, def, undef);
                } else if (kind == 1) {                            // op reg, r/m
                    Reg dst = writes ? b.dest(size, l8) : b.src(size, l8);
                    Operand src = b.srcRm(size, l8);
                    byte[] bytes = rm(b, 0, size, new int[] {op * 8 + 2}, new int[] {op * 8 + 3}, dst.code(), dst, src, 0, 0);
                    b.insn(bytes, name + " " + dst + ", " + src, def, undef);
                } else if (kind == 2) {                            // op r/m, imm (80/81/83)
                    Operand dst = writes ? b.destRm(size, l8) : b.srcRm(size, l8);
                    boolean imm8 = size != 1 && rnd.nextBoolean();
                    int n = imm8 ? 1 : immBytes(size);
                    long imm = Values.imm(rnd, n);
                    int lock = writes && dst instanceof Mem && rnd.nextBoolean() ? 0xF0 : 0;
                    byte[] bytes = rm(b, lock, size, new int[] {0x80}, new int[] {imm8 ? 0x83 : 0x81}, op, null, dst, imm, n);
                    b.insn(bytes, String.format("%s%s %s, 0x%x", lock != 0 ? "lock " : "", name, dst, imm), def, undef);
                } else {                                           // op al/ax/eax/rax, imm
                    int n = immBytes(size);
                    long imm = Values.imm(rnd, n);
                    byte[] bytes = Encoder.plain(concat(prefixes(0, size), size == 8 ? new int[] {0x48} : NONE,
                            new int[] {op * 8 + (size == 1 ? 4 : 5)}), imm, n);
                    b.insn(bytes, String.format("%s %s, 0x%x", name, Reg.of(0, size), imm), def, undef);
                }
            }
            case 4 -> {                                            // TEST
                Operand dst = b.srcRm(size, l8);
                if (rnd.nextBoolean()) {
                    Reg src = b.src(size, l8);
                    b.insn(rm(b, 0, size, new int[] {0x84}, new int[] {0x85}, src.code(), src, dst, 0, 0),
                            "test " + dst + ", " + src, LOGIC_DEF, AF);
                } else {
                    int n = immBytes(size);
                    long imm = Values.imm(rnd, n);
                    b.insn(rm(b, 0, size, new int[] {0xF6}, new int[] {0xF7}, 0, null, dst, imm, n),
                            String.format("test %s, 0x%x", dst, imm), LOGIC_DEF, AF);
                }
            }
            case 5 -> {                                            // INC/DEC: CF untouched
                int ext = rnd.nextInt(2);
                Operand dst = b.destRm(size, l8);
                int lock = dst instanceof Mem && rnd.nextBoolean() ? 0xF0 : 0;
                b.insn(rm(b, lock, size, new int[] {0xFE}, new int[] {0xFF}, ext, null, dst, 0, 0),
                        (lock != 0 ? "lock " : "") + (ext == 0 ? "inc " : "dec ") + dst, OF | SF | ZF | AF | PF, 0);
            }
            default -> {                                           // NOT (no flags) / NEG
                boolean neg = rnd.nextBoolean();
                Operand dst = b.destRm(size, l8);
                int lock = dst instanceof Mem && rnd.nextBoolean() ? 0xF0 : 0;
                b.insn(rm(b, lock, size, new int[] {0xF6}, new int[] {0xF7}, neg ? 3 : 2, null, dst, 0, 0),
                        (lock != 0 ? "lock " : "") + (neg ? "neg " : "not ") + dst, neg ? STATUS : 0, 0);
            }
        }
    }

    // ---- shifts and rotates ----------------------------------------------------------------------

    private static final String[] SHIFT_NAMES = {"rol", "ror", "rcl", "rcr", "shl", "shr", "sal", "sar"};

    static void shift(SequenceBuilder b) {
        Random rnd = b.rnd;
        if (rnd.nextInt(4) == 0) {
            doubleShift(b);
            return;
        }
        int size = pickSize(rnd);
        boolean l8 = legacy8(rnd, size);
        int op = new int[] {0, 1, 2, 3, 4, 5, 7}[rnd.nextInt(7)];
        int form = rnd.nextInt(3);                                 // 0: by 1, 1: by CL, 2: by imm8
        int count = form == 0 ? 1 : shiftCount(rnd, size);
        if (form == 1) {
            b.setup(Encoder.plain(new int[] {0xB9}, count, 4), "mov ecx, " + count);
        }
        b.needFlags(op == 2 || op == 3 ? CF : 0);
        Operand dst = b.destRm(size, l8);
        byte[] bytes = switch (form) {
            case 0 -> rm(b, 0, size, new int[] {0xD0}, new int[] {0xD1}, op, null, dst, 0, 0);
            case 1 -> rm(b, 0, size, new int[] {0xD2}, new int[] {0xD3}, op, null, dst, 0, 0);
            default -> rm(b, 0, size, new int[] {0xC0}, new int[] {0xC1}, op, null, dst, count, 1);
        };
        String text = SHIFT_NAMES[op] + " " + dst + ", " + (form == 0 ? "1" : form == 1 ? "cl (=" + count + ")" : count);
        int bits = size * 8;
        int c = count & (size == 8 ? 63 : 31);
        long def = 0, undef = 0;
        if (c != 0) {
            if (op <= 1) {                                         // ROL/ROR touch only CF and OF
                def = CF | (c == 1 ? OF : 0);
                undef = c == 1 ? 0 : OF;
            } else if (op <= 3) {                                  // RCL/RCR
                def = CF | (c == 1 ? OF : 0);
                undef = c == 1 ? 0 : OF;
            } else {                                               // SHL/SHR/SAR
                boolean cfUndefined = op != 7 && c >= bits;
                def = SF | ZF | PF | (cfUndefined ? 0 : CF) | (c == 1 ? OF : 0);
                undef = AF | (cfUndefined ? CF : 0) | (c == 1 ? 0 : OF);
            }
        }
        b.insn(bytes, text, def, undef);
    }

    private static int shiftCount(Random rnd, int size) {
        int bits = size * 8;
        int[] edges = {0, 1, 2, bits - 1, bits, bits + 1, 31, 32, 33, 63, 64, 255};
        return switch (rnd.nextInt(3)) {
            case 0 -> edges[rnd.nextInt(edges.length)];
            case 1 -> rnd.nextInt(bits + 1);
            default -> rnd.nextInt(256);
        };
    }

    private static void doubleShift(SequenceBuilder b) {
        Random rnd = b.rnd;
        int size = 2 << rnd.nextInt(3);
        boolean left = rnd.nextBoolean();
        boolean byCl = rnd.nextBoolean();
        int count;
        do {
            count = shiftCount(rnd, size);
        } while (size == 2 && (count & 31) > 16);                  // 16-bit counts above 16: result undefined
        if (byCl) {
            b.setup(Encoder.plain(new int[] {0xB9}, count, 4), "mov ecx, " + count);
        }
        Operand dst = b.destRm(size, false);
        Reg src = b.src(size, false);
        int opcode = (left ? 0xA4 : 0xAC) + (byCl ? 1 : 0);
        byte[] bytes = rm(b, 0, size, null, new int[] {0x0F, opcode}, src.code(), src, dst, count, byCl ? 0 : 1);
        int c = count & (size == 8 ? 63 : 31);
        long def = c == 0 ? 0 : SF | ZF | PF | CF | (c == 1 ? OF : 0);
        long undef = c == 0 ? 0 : AF | (c == 1 ? 0 : OF);
        b.insn(bytes, (left ? "shld " : "shrd ") + dst + ", " + src + ", " + (byCl ? "cl (=" + count + ")" : count),
                def, undef);
    }

    // ---- MUL/IMUL/DIV/IDIV -----------------------------------------------------------------------

    static void mulDiv(SequenceBuilder b) {
        Random rnd = b.rnd;
        int size = pickSize(rnd);
        boolean l8 = legacy8(rnd, size);
        switch (rnd.nextInt(5)) {
            case 0 -> {                                            // MUL/IMUL r/m (one operand)
                boolean signed = rnd.nextBoolean();
                Operand src = b.srcRm(size, l8);
                b.insn(rm(b, 0, size, new int[] {0xF6}, new int[] {0xF7}, signed ? 5 : 4, null, src, 0, 0),
                        (signed ? "imul " : "mul ") + src, CF | OF, SF | ZF | AF | PF);
            }
            case 1 -> {                                            // IMUL r, r/m
                int s = size == 1 ? 4 : size;
                Reg dst = b.dest(s, false);
                Operand src = b.srcRm(s, false);
                b.insn(rm(b, 0, s, null, new int[] {0x0F, 0xAF}, dst.code(), dst, src, 0, 0),
                        "imul " + dst + ", " + src, CF | OF, SF | ZF | AF | PF);
            }
            case 2 -> {                                            // IMUL r, r/m, imm8/imm
                int s = size == 1 ? 2 : size;
                boolean imm8 = rnd.nextBoolean();
                int n = imm8 ? 1 : immBytes(s);
                long imm = Values.imm(rnd, n);
                Reg dst = b.dest(s, false);
                Operand src = b.srcRm(s, false);
                b.insn(rm(b, 0, s, null, new int[] {imm8 ? 0x6B : 0x69}, dst.code(), dst, src, imm, n),
                        String.format("imul %s, %s, 0x%x", dst, src, imm), CF | OF, SF | ZF | AF | PF);
            }
            default -> divide(b, size, rnd.nextBoolean());
        }
    }

    /**
     * DIV/IDIV with operands chosen so the quotient fits: divisor d != 0, quotient q in range,
     * remainder r with |r| < |d| (signed: same sign as the dividend), dividend = q*d + r.
     */
    private static void divide(SequenceBuilder b, int size, boolean signed) {
        Random rnd = b.rnd;
        int bits = size * 8;
        java.math.BigInteger d, q, r;
        java.math.BigInteger two = java.math.BigInteger.TWO;
        if (signed) {
            d = signedValue(rnd, bits, true);
            q = signedValue(rnd, bits, false);
            java.math.BigInteger absD = d.abs();
            r = new java.math.BigInteger(bits, rnd).mod(absD);
            if (rnd.nextInt(4) == 0) {
                r = java.math.BigInteger.ZERO;
            }
            int sign = q.multiply(d).signum();
            if (sign < 0 || (sign == 0 && rnd.nextBoolean())) {
                r = r.negate();
            }
        } else {
            d = unsignedValue(rnd, bits, true);
            q = unsignedValue(rnd, bits, false);
            r = new java.math.BigInteger(bits, rnd).mod(d);
        }
        java.math.BigInteger dividend = q.multiply(d).add(r);
        java.math.BigInteger wide = dividend.mod(two.pow(2 * bits));     // two's complement over 2*bits
        long lo = wide.mod(two.pow(bits)).longValue();
        long hi = wide.shiftRight(bits).longValue();
        long mask = bits == 64 ? -1L : (1L << bits) - 1;
        long divisor = d.longValue() & mask;
        if (size == 1) {
            long ax = (lo & 0xFF) | (hi & 0xFF) << 8;
            b.load(0, (rnd.nextLong() & ~0xFFFFL) | ax);
        } else {
            b.load(0, (rnd.nextLong() & ~mask) | lo);
            b.load(2, (rnd.nextLong() & ~mask) | (hi & mask));
        }
        Operand src;
        if (rnd.nextBoolean()) {
            Mem m = b.mem(size, false);
            src = m;
            // store the divisor with MOV r/m, imm (C6/C7); 64-bit needs a register because imm32 sign-extends
            if (size == 8) {
                int scratch = 1;                                   // rcx: never a pointer, not RDX:RAX
                b.load(scratch, divisor);
                b.setup(rm(b, 0, 8, null, new int[] {0x89}, scratch, Reg.of(scratch, 8), m, 0, 0), "mov " + m + ", rcx");
            } else {
                b.setup(rm(b, 0, size, new int[] {0xC6}, new int[] {0xC7}, 0, null, m, divisor, size),
                        String.format("mov %s, 0x%x", m, divisor));
            }
        } else {
            Reg reg;
            do {
                reg = b.dest(size, false);
            } while (reg.num() == 0 || reg.num() == 2);
            b.load(reg.num(), (rnd.nextLong() & ~mask) | divisor);
            src = reg;
        }
        b.insn(rm(b, 0, size, new int[] {0xF6}, new int[] {0xF7}, signed ? 7 : 6, null, src, 0, 0),
                (signed ? "idiv " : "div ") + src + "   ; " + dividend + " / " + d, 0, STATUS);
    }

    private static java.math.BigInteger signedValue(Random rnd, int bits, boolean nonZero) {
        java.math.BigInteger v;
        do {
            long raw = switch (rnd.nextInt(4)) {
                case 0 -> new long[] {1, -1, 2, -2, Long.MIN_VALUE, Long.MAX_VALUE}[rnd.nextInt(6)] >> (64 - bits);
                case 1 -> rnd.nextInt(16) - 8;
                default -> rnd.nextLong() >> (64 - bits) >> rnd.nextInt(bits);
            };
            v = java.math.BigInteger.valueOf(raw);
            if (v.bitLength() >= bits) {
                v = java.math.BigInteger.valueOf(raw >> 1);
            }
        } while (nonZero && v.signum() == 0);
        return v;
    }

    private static java.math.BigInteger unsignedValue(Random rnd, int bits, boolean nonZero) {
        java.math.BigInteger v;
        do {
            v = switch (rnd.nextInt(4)) {
                case 0 -> java.math.BigInteger.ONE.shiftLeft(bits).subtract(java.math.BigInteger.ONE);
                case 1 -> java.math.BigInteger.valueOf(rnd.nextInt(16));
                default -> new java.math.BigInteger(bits, rnd).shiftRight(rnd.nextInt(bits));
            };
        } while (nonZero && v.signum() == 0);
        return v;
    }

    // ---- bit operations: BT/BTS/BTR/BTC, BSF/BSR, BSWAP -------------------------------------------

    private static final String[] BT_NAMES = {"bt", "bts", "btr", "btc"};

    static void bits(SequenceBuilder b) {
        Random rnd = b.rnd;
        int size = 2 << rnd.nextInt(3);
        switch (rnd.nextInt(5)) {
            case 4 -> {                                            // POPCNT (CPUID.1:ECX.POPCNT): ZF = source was 0, rest cleared
                Reg dst = b.dest(size, false);
                Operand src = b.srcRm(size, false);
                if (src instanceof Reg r && !b.isReserved(r.num()) && rnd.nextInt(4) == 0) {
                    b.load(r.num(), rnd.nextBoolean() ? 0 : -1L);
                }
                b.insn(Encoder.modrm(b.pc(), size == 2 ? new int[] {0x66, 0xF3} : new int[] {0xF3}, size == 8,
                        new int[] {0x0F, 0xB8}, dst.code(), dst, src, 0, 0), "popcnt " + dst + ", " + src, STATUS, 0);
            }
            case 0 -> {                                            // BTx r/m, reg
                int op = rnd.nextInt(4);
                Reg offset = b.dest(size, false);
                Operand dst;
                if (rnd.nextBoolean()) {
                    // memory: the bit offset is signed and reaches beyond the operand; keep it near
                    dst = b.memAt(size, false, 0x100, Layout.DATA_SIZE - 0x100);
                    long bit = rnd.nextInt(2048) - 1024;
                    long mask = size == 8 ? -1L : (1L << (size * 8)) - 1;
                    b.load(offset.num(), (rnd.nextLong() & ~mask) | (bit & mask));
                } else {
                    dst = op == 0 ? b.src(size, false) : b.dest(size, false);
                }
                int lock = op != 0 && dst instanceof Mem && rnd.nextBoolean() ? 0xF0 : 0;
                b.insn(rm(b, lock, size, null, new int[] {0x0F, 0xA3 + op * 8}, offset.code(), offset, dst, 0, 0),
                        (lock != 0 ? "lock " : "") + BT_NAMES[op] + " " + dst + ", " + offset, CF, OF | SF | ZF | AF | PF);
            }
            case 1 -> {                                            // BTx r/m, imm8
                int op = rnd.nextInt(4);
                Operand dst = op == 0 ? b.srcRm(size, false) : b.destRm(size, false);
                int imm = rnd.nextInt(256);
                int lock = op != 0 && dst instanceof Mem && rnd.nextBoolean() ? 0xF0 : 0;
                b.insn(rm(b, lock, size, null, new int[] {0x0F, 0xBA}, 4 + op, null, dst, imm, 1),
                        (lock != 0 ? "lock " : "") + BT_NAMES[op] + " " + dst + ", " + imm, CF, OF | SF | ZF | AF | PF);
            }
            case 2 -> {                                            // BSF/BSR: destination kept when the source is zero (AMD)
                boolean reverse = rnd.nextBoolean();
                Reg dst = b.dest(size, false);
                Operand src = b.srcRm(size, false);
                if (src instanceof Reg r && !b.isReserved(r.num()) && rnd.nextInt(3) == 0) {
                    b.load(r.num(), rnd.nextBoolean() ? 0 : rnd.nextLong() & ~((1L << (size * 8 - 1) << 1) - 1));
                }
                b.insn(rm(b, 0, size, null, new int[] {0x0F, reverse ? 0xBD : 0xBC}, dst.code(), dst, src, 0, 0),
                        (reverse ? "bsr " : "bsf ") + dst + ", " + src, ZF, CF | OF | SF | AF | PF);
            }
            default -> {                                           // BSWAP r32/r64 (16-bit form is undefined)
                int s = rnd.nextBoolean() ? 4 : 8;
                Reg r = b.dest(s, false);
                b.insn(Encoder.opReg(NONE, s == 8, new int[] {0x0F, 0xC8}, r, 0, 0), "bswap " + r, 0, 0);
            }
        }
    }


    // ---- sign conversions: CBW/CWDE/CDQE, CWD/CDQ/CQO ---------------------------------------------

    static void convert(SequenceBuilder b) {
        Random rnd = b.rnd;
        int k = rnd.nextInt(6);
        if (rnd.nextBoolean()) {
            b.load(0, Values.random(rnd, 8));
        }
        int[][] enc = {{0x66, 0x98}, {0x98}, {0x48, 0x98}, {0x66, 0x99}, {0x99}, {0x48, 0x99}};
        String[] names = {"cbw", "cwde", "cdqe", "cwd", "cdq", "cqo"};
        b.insn(Encoder.plain(enc[k], 0, 0), names[k], 0, 0);
    }
}
