package dev.flint.engine.emu.cpu;

/**
 * RFLAGS with lazily computed arithmetic flags. An arithmetic instruction records what it did (kind,
 * operand size, both inputs and the result); CF/PF/AF/ZF/SF/OF are derived only when something reads
 * them. Most results are overwritten before anyone looks, so this saves most of the flag work.
 *
 * <p>The non-arithmetic bits (TF, IF, DF, IOPL, NT, RF, AC, ID, ...) live in {@link #system} as-is.
 */
public final class Flags {
    public static final long CF = 1, PF = 1 << 2, AF = 1 << 4, ZF = 1 << 6, SF = 1 << 7, TF = 1 << 8,
            IF = 1 << 9, DF = 1 << 10, OF = 1 << 11, IOPL = 3 << 12, NT = 1 << 14, RF = 1 << 16, VM = 1 << 17,
            AC = 1 << 18, VIF = 1 << 19, VIP = 1 << 20, ID = 1 << 21;
    public static final long ARITH = CF | PF | AF | ZF | SF | OF;

    /** Kinds of the last flag-setting operation. */
    public static final int EAGER = 0, ADD = 1, ADC = 2, SUB = 3, SBB = 4, LOGIC = 5, INC = 6, DEC = 7,
            SHL = 8, SHR = 9, SAR = 10;

    /** Non-arithmetic RFLAGS bits, plus bit 1 which always reads as one. */
    public long system = 2;

    private int kind = EAGER;
    private int size = 8;
    private long dst, src, res;
    /** EAGER: the arithmetic flags themselves. INC/DEC: the carry flag preserved from before. */
    private long aux;

    public void set(int kind, int size, long dst, long src, long res) {
        this.kind = kind;
        this.size = size;
        this.dst = dst;
        this.src = src;
        this.res = res;
    }

    /** INC/DEC leave CF alone: remember it before recording the new operation. */
    public void setIncDec(boolean inc, int size, long dst, long res) {
        long carry = cf() ? 1 : 0;
        set(inc ? INC : DEC, size, dst, 1, res);
        aux = carry;
    }

    /** Sets the arithmetic flags directly (bits outside {@link #ARITH} are ignored). */
    public void setArith(long bits) {
        aux = bits & ARITH;
        kind = EAGER;
    }

    public long arith() {
        if (kind == EAGER) return aux;
        long f = 0;
        if (cf()) f |= CF;
        if (pf()) f |= PF;
        if (af()) f |= AF;
        if (zf()) f |= ZF;
        if (sf()) f |= SF;
        if (of()) f |= OF;
        return f;
    }

    /** RFLAGS.IOPL: the least privileged CPL allowed I/O and interrupt-flag changes. */
    public int iopl() { return (int) (system >> 12) & 3; }

    /** The full RFLAGS value. */
    public long get() { return (system & ~ARITH) | arith() | 2; }

    /** Loads the whole RFLAGS (the caller has already applied privilege rules). */
    public void load(long value) {
        system = (value & ~ARITH) | 2;
        setArith(value);
    }

    private long mask() { return size == 8 ? -1L : (1L << (size * 8)) - 1; }
    private long sign() { return 1L << (size * 8 - 1); }

    public boolean cf() {
        long m = mask();
        return switch (kind) {
            case EAGER -> (aux & CF) != 0;
            case ADD -> Long.compareUnsigned(res & m, dst & m) < 0;
            case ADC -> (aux != 0) ? Long.compareUnsigned(res & m, dst & m) <= 0 : Long.compareUnsigned(res & m, dst & m) < 0;
            case SUB -> Long.compareUnsigned(dst & m, src & m) < 0;
            case SBB -> (aux != 0) ? Long.compareUnsigned(dst & m, src & m) <= 0 : Long.compareUnsigned(dst & m, src & m) < 0;
            case LOGIC -> false;
            case INC, DEC -> aux != 0;
            case SHL -> ((dst >>> (size * 8 - src)) & 1) != 0;
            case SHR -> ((dst & m) >>> (src - 1) & 1) != 0;
            case SAR -> ((signExtend(dst) >> (src - 1)) & 1) != 0;
            default -> throw new IllegalStateException("flags kind " + kind);
        };
    }

    public boolean zf() { return kind == EAGER ? (aux & ZF) != 0 : (res & mask()) == 0; }
    public boolean sf() { return kind == EAGER ? (aux & SF) != 0 : (res & sign()) != 0; }
    public boolean pf() { return kind == EAGER ? (aux & PF) != 0 : (Long.bitCount(res & 0xFF) & 1) == 0; }

    public boolean af() {
        return switch (kind) {
            case EAGER -> (aux & AF) != 0;
            case ADD, ADC, SUB, SBB, INC, DEC -> ((dst ^ src ^ res) & 0x10) != 0;
            default -> false;
        };
    }

    public boolean of() {
        long s = sign();
        return switch (kind) {
            case EAGER -> (aux & OF) != 0;
            case ADD, ADC, INC -> ((dst ^ res) & (src ^ res) & s) != 0;
            case SUB, SBB, DEC -> ((dst ^ src) & (dst ^ res) & s) != 0;
            case SHL -> (((res & s) != 0) ^ cf());
            case SHR -> (dst & s) != 0;
            default -> false;
        };
    }

    private long signExtend(long v) {
        int shift = 64 - size * 8;
        return (v << shift) >> shift;
    }

    /** Carry in for ADC/SBB: remembered so the carry-out can be computed later. */
    public void setCarryIn(boolean carry) { aux = carry ? 1 : 0; }

    /** Evaluates condition code {@code cc} (0..15, the low nibble of Jcc/SETcc/CMOVcc). */
    public boolean cond(int cc) {
        if (kind == SUB) return ((cc & 1) != 0) != subCond(cc >> 1);
        boolean r = switch (cc >> 1) {
            case 0 -> of();
            case 1 -> cf();
            case 2 -> zf();
            case 3 -> cf() || zf();
            case 4 -> sf();
            case 5 -> pf();
            case 6 -> sf() != of();
            default -> zf() || (sf() != of());
        };
        return ((cc & 1) != 0) != r;
    }

    /** Conditions straight from the operands of the last SUB/CMP, without materialising flags. */
    private boolean subCond(int c) {
        long m = mask();
        int shift = 64 - size * 8;
        return switch (c) {
            case 1 -> Long.compareUnsigned(dst & m, src & m) < 0;
            case 2 -> ((dst ^ src) & m) == 0;
            case 3 -> Long.compareUnsigned(dst & m, src & m) <= 0;
            case 6 -> (dst << shift) < (src << shift);
            case 7 -> (dst << shift) <= (src << shift);
            case 0 -> of();
            case 4 -> sf();
            default -> pf();
        };
    }

    public boolean interruptsEnabled() { return (system & IF) != 0; }
    public boolean direction() { return (system & DF) != 0; }
}
