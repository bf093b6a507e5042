package dev.flint.engine.emu.cpu;

/**
 * Integer arithmetic with its flags, shared by the instruction families ({@link Interpreter}), the fast forms
 * ({@link FastPath}) and compiled blocks. Static over the {@link Flags} they update, so callers reach
 * it directly, with no object in between and no call back up into the CPU.
 */
final class Alu {
    /** Kinds of read-modify-write operation for {@link #compute}. */
    static final int K_ALU = 0, K_UNARY = 1, K_BT = 2, K_XADD = 3;

    private Alu() {}

    /** All ones in the low {@code size} bytes. */
    static long mask(int size) { return size == 8 ? -1L : (1L << (size * 8)) - 1; }

    /** {@code v} sign-extended from {@code size} bytes. */
    static long sext(long v, int size) {
        int sh = 64 - size * 8;
        return (v << sh) >> sh;
    }

    /** ALU op {@code op} (ADD OR ADC SBB AND SUB XOR CMP) with flags; returns the result. */
    static long alu(Flags flags, int op, int size, long a, long b) {
        long res;
        switch (op) {
            case 0 -> { res = a + b; flags.set(Flags.ADD, size, a, b, res); }
            case 1 -> { res = a | b; flags.set(Flags.LOGIC, size, a, b, res); }
            case 2 -> {
                boolean c = flags.cf();
                res = a + b + (c ? 1 : 0);
                flags.set(Flags.ADC, size, a, b, res);
                flags.setCarryIn(c);
            }
            case 3 -> {
                boolean c = flags.cf();
                res = a - b - (c ? 1 : 0);
                flags.set(Flags.SBB, size, a, b, res);
                flags.setCarryIn(c);
            }
            case 4 -> { res = a & b; flags.set(Flags.LOGIC, size, a, b, res); }
            case 5, 7 -> { res = a - b; flags.set(Flags.SUB, size, a, b, res); }
            default -> { res = a ^ b; flags.set(Flags.LOGIC, size, a, b, res); }
        }
        return res & mask(size);
    }

    /** INC or DEC of a register value, with their flags (CF kept). */
    static long incDec(Flags flags, boolean inc, int size, long value) {
        return compute(flags, K_UNARY, inc ? 0 : 1, size, value, 0);
    }

    /**
     * The new value of a read-modify-write operand: {@code kind} {@link #K_ALU} (op as in {@link #alu}),
     * {@link #K_UNARY} (INC DEC NOT NEG), {@link #K_BT} (BT BTS BTR BTC as 4-7, {@code src} the bit) or
     * {@link #K_XADD} (the sum; the caller gives the register the old value).
     */
    static long compute(Flags flags, int kind, int op, int size, long d, long src) {
        switch (kind) {
            case K_ALU:
                return alu(flags, op, size, d, src);
            case K_UNARY:
                switch (op) {
                    case 0 -> { long v = (d + 1) & mask(size); flags.setIncDec(true, size, d, v); return v; }
                    case 1 -> { long v = (d - 1) & mask(size); flags.setIncDec(false, size, d, v); return v; }
                    case 2 -> { return ~d & mask(size); }
                    default -> { long v = (-d) & mask(size); flags.set(Flags.SUB, size, 0, d, v); return v; }
                }
            case K_BT: {
                long bit = 1L << src;
                long old = flags.arith() & ~Flags.CF;
                flags.setArith(old | ((d & bit) != 0 ? Flags.CF : 0));
                return switch (op) {
                    case 5 -> d | bit;
                    case 6 -> d & ~bit;
                    case 7 -> d ^ bit;
                    default -> d;
                };
            }
            default:
                return alu(flags, 0, size, d, src);
        }
    }

    /** The flags of MUL/IMUL: CF = OF = {@code carry}; SF, ZF, PF from the low half (as recent CPUs do). */
    static void mulFlags(Flags flags, int z, long lo, boolean carry) {
        long f = carry ? Flags.CF | Flags.OF : 0;
        long m = lo & mask(z);
        if (m == 0) f |= Flags.ZF;
        if ((m & (1L << (z * 8 - 1))) != 0) f |= Flags.SF;
        if ((Long.bitCount(m & 0xFF) & 1) == 0) f |= Flags.PF;
        flags.setArith(f);
    }

    /** Two- and three-operand IMUL: the truncated product, CF/OF when it does not fit. */
    static long imul(Flags flags, int z, long a, long b) {
        long sa = sext(a, z), sb = sext(b, z);
        long lo = sa * sb;
        boolean overflow = z == 8 ? Math.multiplyHigh(sa, sb) != (lo >> 63) : sext(lo, z) != lo;
        mulFlags(flags, z, lo, overflow);
        return lo & mask(z);
    }
}
