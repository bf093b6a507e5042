package dev.flint.engine.emu.diff;

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
 * Emitters for the general-purpose instruction groups. Each emits one tested instruction (plus any
 * setup it needs) into a {@link SequenceBuilder}, and declares the flags it reads and which it leaves
 * defined or undefined. The undefined-flag masks follow the Intel SDM and AMD APM; where the two
 * manuals differ the flag counts as undefined (e.g. ZF after BT).
 */
final class IntegerGroups {
    static final String[] ALU_NAMES = {"add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"};
    static final String[] CC = {"o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"};
    private static final int[] NONE = {};
    private static final long LOGIC_DEF = CF | OF | SF | ZF | PF;

    private IntegerGroups() {}

    // ---- shared encoding helpers -----------------------------------------------------------------

    static int pickSize(Random rnd) {
        return 1 << rnd.nextInt(4);
    }

    static int[] prefixes(int lock, int size) {
        if (lock != 0 && size == 2) {
            return new int[] {lock, 0x66};
        }
        if (lock != 0) {
            return new int[] {lock};
        }
        return size == 2 ? new int[] {0x66} : NONE;
    }

    /** ModRM instruction with operand size {@code size}: opcode {@code op8} for bytes, {@code opV} otherwise. */
    static byte[] rm(SequenceBuilder b, int lock, int size, int[] op8, int[] opV, int reg, Reg regOp, Operand rm,
                     long imm, int immSize) {
        return Encoder.modrm(b.pc(), prefixes(lock, size), size == 8, size == 1 ? op8 : opV, reg, regOp, rm, imm,
                immSize);
    }

    static int immBytes(int size) {
        return Math.min(size, 4);
    }

    static long flagsRead(int cc) {
        return switch (cc >> 1) {
            case 0 -> OF;
            case 1 -> CF;
            case 2 -> ZF;
            case 3 -> CF | ZF;
            case 4 -> SF;
            case 5 -> PF;
            case 6 -> SF | OF;
            default -> SF | OF | ZF;
        };
    }

    private static boolean legacy8(Random rnd, int size) {
        return size == 1 && rnd.nextBoolean();
    }

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

    // ---- moves: MOV, MOVZX/MOVSX/MOVSXD, LEA -----------------------------------------------------

    static void moves(SequenceBuilder b) {
        Random rnd = b.rnd;
        int size = pickSize(rnd);
        boolean l8 = legacy8(rnd, size);
        switch (rnd.nextInt(8)) {
            case 7 -> {                                            // MOV AL/AX/EAX/RAX <-> [moffs64] (A0-A3)
                boolean store = rnd.nextBoolean();
                long address = b.layout.data() + rnd.nextInt(Layout.DATA_SIZE - size + 1);
                int[] op = concat(prefixes(0, size), size == 8 ? new int[] {0x48} : NONE,
                        new int[] {(store ? 0xA2 : 0xA0) + (size == 1 ? 0 : 1)});
                Reg acc = Reg.of(0, size);
                b.insn(Encoder.plain(op, address, 8), store ? String.format("mov [0x%x], %s", address, acc)
                        : String.format("mov %s, [0x%x]", acc, address), 0, 0);
            }
            case 0 -> {                                            // MOV r/m, reg
                Operand dst = b.destRm(size, l8);
                Reg src = b.src(size, l8);
                b.insn(rm(b, 0, size, new int[] {0x88}, new int[] {0x89}, src.code(), src, dst, 0, 0), "mov " + dst + ", " + src, 0, 0);
            }
            case 1 -> {                                            // MOV reg, r/m
                Reg dst = b.dest(size, l8);
                Operand src = b.srcRm(size, l8);
                b.insn(rm(b, 0, size, new int[] {0x8A}, new int[] {0x8B}, dst.code(), dst, src, 0, 0), "mov " + dst + ", " + src, 0, 0);
            }
            case 2 -> {                                            // MOV r/m, imm / MOV reg, imm (B0+r, B8+r incl. imm64)
                if (rnd.nextBoolean()) {
                    Operand dst = b.destRm(size, l8);
                    int n = immBytes(size);
                    long imm = Values.imm(rnd, n);
                    b.insn(rm(b, 0, size, new int[] {0xC6}, new int[] {0xC7}, 0, null, dst, imm, n),
                            String.format("mov %s, 0x%x", dst, imm), 0, 0);
                } else {
                    Reg dst = b.dest(size, l8);
                    long imm = Values.imm(rnd, size);
                    b.insn(Encoder.opReg(prefixes(0, size), size == 8, new int[] {size == 1 ? 0xB0 : 0xB8}, dst, imm, size),
                            String.format("mov %s, 0x%x", dst, imm), 0, 0);
                }
            }
            case 3 -> {                                            // MOVZX/MOVSX from 8 or 16 bits
                boolean sign = rnd.nextBoolean();
                boolean fromByte = rnd.nextBoolean();
                int s = fromByte ? 2 << rnd.nextInt(3) : 4 << rnd.nextInt(2);
                boolean legacy = fromByte && s != 8 && rnd.nextBoolean();
                Reg dst = legacy ? b.dest(s, false) : b.dest(s, false);
                if (legacy && (dst.num() >= 8)) {
                    legacy = false;
                }
                Operand src = b.srcRm(fromByte ? 1 : 2, legacy);
                int op = (sign ? 0xBE : 0xB6) + (fromByte ? 0 : 1);
                b.insn(Encoder.modrm(b.pc(), prefixes(0, s), s == 8, new int[] {0x0F, op}, dst.code(), dst, src, 0, 0),
                        (sign ? "movsx " : "movzx ") + dst + ", " + src, 0, 0);
            }
            case 4 -> {                                            // MOVSXD r64, r/m32
                Reg dst = b.dest(8, false);
                Operand src = b.srcRm(4, false);
                b.insn(Encoder.modrm(b.pc(), NONE, true, new int[] {0x63}, dst.code(), dst, src, 0, 0),
                        "movsxd " + dst + ", " + src, 0, 0);
            }
            default -> {                                           // LEA, sometimes with a 32-bit address size
                int s = 2 << rnd.nextInt(3);
                Reg dst = b.dest(s, false);
                Mem m = b.mem(1, false);
                boolean addr32 = rnd.nextInt(3) == 0;
                int[] legacy = addr32 ? concat(prefixes(0, s), new int[] {0x67}) : prefixes(0, s);
                b.insn(Encoder.modrm(b.pc(), legacy, s == 8, new int[] {0x8D}, dst.code(), dst, m, 0, 0),
                        (addr32 ? "addr32 " : "") + "lea " + dst + ", " + m, 0, 0);
            }
        }
    }

    // ---- flag consumers: SETcc, CMOVcc, Jcc/JMP/JRCXZ/LOOP forward, LAHF/SAHF, CMC/CLC/STC ----------

    static void conditional(SequenceBuilder b) {
        Random rnd = b.rnd;
        switch (rnd.nextInt(6)) {
            case 0 -> {
                int cc = rnd.nextInt(16);
                b.needFlags(flagsRead(cc));
                boolean l8 = rnd.nextBoolean();
                Operand dst = b.destRm(1, l8);
                b.insn(Encoder.modrm(b.pc(), NONE, false, new int[] {0x0F, 0x90 + cc}, 0, null, dst, 0, 0),
                        "set" + CC[cc] + " " + dst, 0, 0);
            }
            case 1 -> {
                int cc = rnd.nextInt(16);
                int s = 2 << rnd.nextInt(3);
                b.needFlags(flagsRead(cc));
                Reg dst = b.dest(s, false);
                Operand src = b.srcRm(s, false);
                b.insn(rm(b, 0, s, null, new int[] {0x0F, 0x40 + cc}, dst.code(), dst, src, 0, 0),
                        "cmov" + CC[cc] + " " + dst + ", " + src, 0, 0);
            }
            case 2 -> forwardJump(b, false);
            case 3 -> {
                if (rnd.nextBoolean()) {
                    b.needFlags(SF | ZF | AF | PF | CF);
                    b.insn(new byte[] {(byte) 0x9F}, "lahf", 0, 0);
                } else {
                    b.insn(new byte[] {(byte) 0x9E}, "sahf", SF | ZF | AF | PF | CF, 0);
                }
            }
            case 4 -> {
                int k = rnd.nextInt(3);
                if (k == 0) {
                    b.needFlags(CF);
                }
                b.insn(new byte[] {(byte) new int[] {0xF5, 0xF8, 0xF9}[k]}, new String[] {"cmc", "clc", "stc"}[k], CF, 0);
            }
            default -> alu(b);                                     // something to set flags for the consumers
        }
    }

    /** LOOP/JECXZ with the 67 prefix (count in ECX), or a string op with it. */
    static void addr32(SequenceBuilder b) {
        if (b.rnd.nextBoolean()) {
            forwardJump(b, true);
        } else {
            MemoryGroups.stringAddr32(b);
        }
    }

    private static void forwardJump(SequenceBuilder b, boolean addr32) {
        Random rnd = b.rnd;
        int kind = addr32 ? 5 : rnd.nextInt(7);
        if (kind == 6) {
            indirectJump(b);
            return;
        }                                 // 0-2 Jcc rel8, 3 Jcc rel32, 4 JMP rel8, 5 JRCXZ/LOOP
        int cc = rnd.nextInt(16);
        byte[] jump;
        String text;
        if (kind <= 3) {
            b.needFlags(flagsRead(cc));
            jump = kind == 3 ? new byte[] {0x0F, (byte) (0x80 + cc), 0, 0, 0, 0} : new byte[] {(byte) (0x70 + cc), 0};
            text = "j" + CC[cc] + (kind == 3 ? " rel32" : " rel8");
        } else if (kind == 4) {
            jump = new byte[] {(byte) 0xEB, 0};
            text = "jmp rel8";
        } else {
            if (rnd.nextBoolean()) {
                long junk = addr32 ? rnd.nextLong() << 32 : 0;
                b.load(1, junk | (rnd.nextBoolean() ? 0 : rnd.nextInt(3)));
            }
            boolean loop = rnd.nextBoolean();
            boolean ecx = addr32;                                  // 67: LOOP/JECXZ use ECX
            jump = ecx ? new byte[] {0x67, (byte) (loop ? 0xE2 : 0xE3), 0} : new byte[] {(byte) (loop ? 0xE2 : 0xE3), 0};
            text = (ecx ? "addr32 " : "") + (loop ? "loop rel8 (rcx-1 != 0)" : "jrcxz rel8");
        }
        int at = b.size();
        b.insn(jump, text + " (forward, over the next block)", 0, 0);
        long before = b.definedFlags();
        int blockStart = b.size();
        int n = rnd.nextInt(3);
        for (int i = 0; i < n; i++) {
            alu(b);
        }
        int distance = b.size() - blockStart;
        if (jump.length == 6) {
            for (int i = 0; i < 4; i++) {
                b.patch(at + 2 + i, (byte) (distance >>> (8 * i)));
            }
        } else {
            b.patch(at + jump.length - 1, (byte) distance);
        }
        b.joinFlags(before);
    }

    /** {@code lea r64, [rip -> over]; jmp r64} (FF /4) over a block: RIP-relative LEA and an indirect jump. */
    private static void indirectJump(SequenceBuilder b) {
        Random rnd = b.rnd;
        Reg r = b.dest(8, false);
        int leaAt = b.size();
        b.insn(Encoder.modrm(b.pc(), NONE, true, new int[] {0x8D}, r.code(), r, new Mem(-1, -1, 1, b.pc() + 7, 1, true), 0, 0),
                "lea " + r + ", [rip -> after the block]", 0, 0);
        int jumpAt = b.size();
        b.insn(Encoder.modrm(b.pc(), NONE, false, new int[] {0xFF}, 4, null, r, 0, 0), "jmp " + r, 0, 0);
        long before = b.definedFlags();
        int n = 1 + rnd.nextInt(2);
        b.restricted(r.num(), false, () -> {
            for (int i = 0; i < n; i++) {
                alu(b);
            }
        });
        int disp = b.size() - jumpAt;                              // LEA's RIP is the jump's address
        for (int i = 0; i < 4; i++) {
            b.patch(leaAt + 3 + i, (byte) (disp >>> (8 * i)));
        }
        b.joinFlags(before);
    }

    // ---- exchanges: XCHG, XADD, CMPXCHG, CMPXCHG8B/16B -------------------------------------------

    static void exchange(SequenceBuilder b) {
        Random rnd = b.rnd;
        int size = pickSize(rnd);
        boolean l8 = legacy8(rnd, size);
        switch (rnd.nextInt(5)) {
            case 0 -> {                                            // XCHG r/m, reg (memory form is locked implicitly)
                Operand dst = b.destRm(size, l8);
                Reg src = b.dest(size, l8);
                b.insn(rm(b, 0, size, new int[] {0x86}, new int[] {0x87}, src.code(), src, dst, 0, 0), "xchg " + dst + ", " + src, 0, 0);
            }
            case 1 -> {                                            // XCHG rAX, reg (90+r; 90 alone is NOP)
                int s = 2 << rnd.nextInt(3);
                Reg r = b.dest(s, false);
                if (r.num() == 0) {
                    r = Reg.of(8 + rnd.nextInt(8), s);
                    if (b.isReserved(r.num())) {
                        return;
                    }
                }
                b.insn(Encoder.opReg(prefixes(0, s), s == 8, new int[] {0x90}, r, 0, 0), "xchg " + Reg.of(0, s) + ", " + r, 0, 0);
            }
            case 2 -> {                                            // XADD r/m, reg
                Operand dst = b.destRm(size, l8);
                Reg src = b.dest(size, l8);
                int lock = dst instanceof Mem && rnd.nextBoolean() ? 0xF0 : 0;
                b.insn(rm(b, lock, size, new int[] {0x0F, 0xC0}, new int[] {0x0F, 0xC1}, src.code(), src, dst, 0, 0),
                        (lock != 0 ? "lock " : "") + "xadd " + dst + ", " + src, STATUS, 0);
            }
            case 3 -> {                                            // CMPXCHG r/m, reg (accumulator compared)
                Operand dst = b.destRm(size, l8);
                Reg src = b.src(size, l8);
                if (rnd.nextBoolean()) {                           // make the equal case likely
                    Reg acc = Reg.of(0, size);
                    b.setup(rm(b, 0, size, new int[] {0x8A}, new int[] {0x8B}, 0, acc, dst, 0, 0), "mov " + acc + ", " + dst);
                }
                int lock = dst instanceof Mem && rnd.nextBoolean() ? 0xF0 : 0;
                b.insn(rm(b, lock, size, new int[] {0x0F, 0xB0}, new int[] {0x0F, 0xB1}, src.code(), src, dst, 0, 0),
                        (lock != 0 ? "lock " : "") + "cmpxchg " + dst + ", " + src, STATUS, 0);
            }
            default -> {                                           // CMPXCHG8B (CMPXCHG16B: CPUID does not advertise CX16)
                boolean wide = false;
                int n = wide ? 16 : 8;
                Mem m = b.memAt(n, false, 0, Layout.DATA_SIZE);
                m = alignTarget(b, m, n);
                if (m == null) {
                    return;
                }
                if (rnd.nextBoolean()) {
                    int half = n / 2;
                    Mem lo = new Mem(m.base(), m.index(), m.scale(), m.disp(), half, m.wideDisp());
                    Mem hi = new Mem(m.base(), m.index(), m.scale(), m.disp() + half, half, m.wideDisp());
                    b.setup(rm(b, 0, half, null, new int[] {0x8B}, 0, Reg.of(0, half), lo, 0, 0), "mov " + Reg.of(0, half) + ", " + lo);
                    b.setup(rm(b, 0, half, null, new int[] {0x8B}, 2, Reg.of(2, half), hi, 0, 0), "mov " + Reg.of(2, half) + ", " + hi);
                }
                int lock = rnd.nextBoolean() ? 0xF0 : 0;
                b.insn(Encoder.modrm(b.pc(), lock != 0 ? new int[] {lock} : NONE, wide, new int[] {0x0F, 0xC7}, 1, null, m, 0, 0),
                        (lock != 0 ? "lock " : "") + (wide ? "cmpxchg16b " : "cmpxchg8b ") + m, ZF, 0);
            }
        }
    }

    /** Rewrites a base/index operand to point at an n-aligned address; null for RIP-relative operands. */
    static Mem alignTarget(SequenceBuilder b, Mem m, int n) {
        if (m.ripRelative()) {
            long t = m.disp() & -n;
            return new Mem(-1, -1, 1, t, m.size(), true);
        }
        long base = b.initial.gpr[m.base()];
        long index = m.index() >= 0 ? b.initial.gpr[m.index()] * m.scale() : 0;
        long target = base + index + m.disp();
        long aligned = target & -n;
        if (aligned < b.layout.data()) {
            aligned += n;
        }
        return new Mem(m.base(), m.index(), m.scale(), m.disp() + (aligned - target), m.size(), m.wideDisp());
    }

    // ---- decoder edge cases: ignored prefixes, REX placement, NOP and XCHG aliases -------------------

    /**
     * Instructions whose meaning hangs on decoder rules: segment overrides CS/DS/ES/SS (ignored in
     * 64-bit mode), a REX followed by a legacy prefix (the REX is ignored), repeated 66, NOP forms,
     * 90 with REX.B (a real XCHG), 87 C0 (XCHG EAX,EAX zero-extends), MOVSXD without REX.W.
     * Memory operands are base-relative here so extra prefixes cannot move a RIP-relative target.
     */
    static void encodings(SequenceBuilder b) {
        Random rnd = b.rnd;
        switch (rnd.nextInt(4)) {
            case 0, 1 -> {
                int op = rnd.nextInt(8);
                int size = 2 << rnd.nextInt(3);
                Reg reg = op == 7 ? b.src(size, false) : b.dest(size, false);
                Operand other = rnd.nextBoolean() ? b.src(size, false) : baseRelative(b, size);
                int[] extra = switch (rnd.nextInt(5)) {
                    case 0 -> new int[] {new int[] {0x2E, 0x3E, 0x26, 0x36}[rnd.nextInt(4)]};
                    case 4 -> new int[] {0x65};                    // GS: its base is 0 on both sides
                    case 1 -> new int[] {0x40 | rnd.nextInt(16), 0x3E};           // REX then legacy: REX ignored
                    case 2 -> new int[] {0x26, 0x36};
                    default -> size == 2 ? new int[] {0x66} : new int[] {0x2E};      // a second 66 changes nothing
                };
                byte[] core = rm(b, 0, size, null, new int[] {op * 8 + 3}, reg.code(), reg, other, 0, 0);
                byte[] bytes = new byte[extra.length + core.length];
                for (int i = 0; i < extra.length; i++) {
                    bytes[i] = (byte) extra[i];
                }
                System.arraycopy(core, 0, bytes, extra.length, core.length);
                long def = (op == 1 || op == 4 || op == 6) ? LOGIC_DEF : STATUS;
                b.needFlags(op == 2 || op == 3 ? CF : 0);
                b.insn(bytes, "prefixes " + java.util.Arrays.toString(extra) + " " + ALU_NAMES[op] + " " + reg + ", " + other,
                        def, (op == 1 || op == 4 || op == 6) ? AF : 0);
            }
            case 2 -> {
                int[][] nops = {{0x90}, {0x66, 0x90}, {0xF3, 0x90}, {0x48, 0x90}, {0x0F, 0x1F, 0x00}, {0x0F, 0x1F, 0x40, 0x00},
                    {0x0F, 0x1F, 0x44, 0x00, 0x00}, {0x66, 0x0F, 0x1F, 0x44, 0x00, 0x00},
                    {0x66, 0x2E, 0x0F, 0x1F, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00}};
                int[] nop = nops[rnd.nextInt(nops.length)];
                b.insn(Encoder.plain(nop, 0, 0), "nop form " + java.util.Arrays.toString(nop), 0, 0);
            }
            default -> {
                switch (rnd.nextInt(3)) {
                    case 0 -> b.insn(new byte[] {(byte) 0x87, (byte) 0xC0}, "xchg eax, eax (87 c0: zero-extends rax)", 0, 0);
                    case 1 -> {
                        if (!b.isReserved(8)) {
                            boolean w = rnd.nextBoolean();
                            b.insn(new byte[] {(byte) (w ? 0x49 : 0x41), (byte) 0x90}, w ? "xchg r8, rax" : "xchg r8d, eax", 0, 0);
                        }
                    }
                    default -> {
                        Reg dst = b.dest(4, false);
                        Operand src = b.srcRm(4, false);
                        b.insn(Encoder.modrm(b.pc(), NONE, false, new int[] {0x63}, dst.code(), dst, src, 0, 0),
                                "movsxd " + dst + ", " + src + " (no REX.W)", 0, 0);
                    }
                }
            }
        }
    }

    private static Operand baseRelative(SequenceBuilder b, int size) {
        Mem m;
        do {
            m = b.mem(size, false);
        } while (m.ripRelative());
        return m;
    }

    // ---- self-modifying code: a store into an instruction that runs shortly after -------------------

    /**
     * {@code mov byte/dword [rip -> later instruction], v} followed by 0-3 filler NOPs and the patched
     * instruction: an immediate of {@code add eax, imm8} or {@code mov ecx, imm32}, or the ModRM of
     * {@code inc eax} turned into dec/inc of eax/ecx. x86 guarantees the store is seen by the fetch that
     * follows, however close; a CPU that decodes ahead or caches decoded code must notice.
     */
    static void selfModifying(SequenceBuilder b) {
        Random rnd = b.rnd;
        int fillers = rnd.nextInt(4);
        int kind = rnd.nextInt(4);
        int[] victim;
        int patchOffset;
        int patchSize = 1;
        long def;
        switch (kind) {
            case 0 -> {
                victim = new int[] {0x83, 0xC0, rnd.nextInt(256)};
                patchOffset = 2;
                def = STATUS;
            }
            case 1 -> {
                victim = new int[] {0xB9, rnd.nextInt(256), rnd.nextInt(256), rnd.nextInt(256), rnd.nextInt(256)};
                patchOffset = 1 + rnd.nextInt(4);
                def = 0;
            }
            case 2 -> {
                victim = new int[] {0xB9, 0, 0, 0, 0};
                patchOffset = 1;
                patchSize = 4;
                def = 0;
            }
            default -> {
                victim = new int[] {0xFF, 0xC0};
                patchOffset = 1;
                def = OF | SF | ZF | AF | PF;
            }
        }
        long value = kind == 3 ? new int[] {0xC0, 0xC8, 0xC1, 0xC9}[rnd.nextInt(4)]
                : patchSize == 4 ? Values.imm(rnd, 4) : rnd.nextInt(256);
        int storeLength = patchSize == 4 ? 10 : 7;                // C7/C6 05 disp32 imm32/imm8
        long target = b.pc() + storeLength + fillers + patchOffset;
        Mem m = new Mem(-1, -1, 1, target, patchSize, true);
        byte[] store = Encoder.modrm(b.pc(), NONE, false, new int[] {patchSize == 4 ? 0xC7 : 0xC6}, 0, null, m, value, patchSize);
        b.insn(store, String.format("mov %s, 0x%x (patches the instruction %d bytes on)", m, value, fillers), 0, 0);
        for (int i = 0; i < fillers; i++) {
            b.insn(new byte[] {(byte) 0x90}, "nop", 0, 0);
        }
        if (kind == 0 || kind == 3) {
            b.needFlags(0);
        }
        b.insn(Encoder.plain(victim, 0, 0), "patched instruction (as written before the store)", def, 0);
    }

    // ---- operands that alias: an instruction writes the register its own address is formed from ----------

    /**
     * A few ALU instructions, then one that overwrites a pointer register it addresses memory with
     * ({@code mov rbx, [rbx+8]}, {@code xchg [r12], r12}, {@code xadd}, {@code cmpxchg}, {@code add},
     * {@code lea}): the address must be formed before the write. It is the last instruction, since the
     * pointer is gone afterwards.
     */
    static void aliasing(SequenceBuilder b, boolean last) {
        if (!last) {
            alu(b);
            return;
        }
        Random rnd = b.rnd;
        int size = 2 << rnd.nextInt(3);
        int kind = rnd.nextInt(6);
        Reg base = Reg.of(b.baseReg, size);
        Mem m;
        do {
            m = b.mem(size, false);
        } while (m.ripRelative() || (kind == 5 && m.index() < 0));
        String name = new String[] {"mov", "add", "xchg", "xadd", "cmpxchg", "lea"}[kind];
        int[] op = switch (kind) {
            case 0 -> new int[] {0x8B};
            case 1 -> new int[] {0x03};
            case 2 -> new int[] {0x87};
            case 3 -> new int[] {0x0F, 0xC1};
            case 4 -> new int[] {0x0F, 0xB1};
            default -> new int[] {0x8D};
        };
        long def = kind == 1 || kind == 3 || kind == 4 ? STATUS : 0;
        String text = kind == 2 || kind == 3 || kind == 4 ? name + " " + m + ", " + base : name + " " + base + ", " + m;
        b.insn(rm(b, 0, size, null, op, base.code(), base, m, 0, 0), text + "   ; writes its own base register", def, 0);
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

    static int[] concat(int[]... parts) {
        int n = 0;
        for (int[] p : parts) {
            n += p.length;
        }
        int[] out = new int[n];
        int i = 0;
        for (int[] p : parts) {
            System.arraycopy(p, 0, out, i, p.length);
            i += p.length;
        }
        return out;
    }
}
