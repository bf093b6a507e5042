package dev.flint.engine.emu.fpu;

/**
 * The x87, MMX and SSE register file of one virtual CPU. Plain mutable state; the units in this package
 * interpret it. The core keeps one instance per vCPU and never needs to look inside, except to save and
 * restore it as a whole (use {@link #copyFrom}).
 *
 * <p>The eight x87 data registers are kept as raw 80-bit extended values (64-bit significand plus a 16-bit
 * sign/exponent word), indexed by <em>physical</em> register number. That makes FXSAVE/FSAVE and 80-bit
 * loads/stores bit-exact and lets MMX alias them the way hardware does: MMX register {@code mmN} is the
 * significand of physical register N, and writing it sets that register's exponent word to 0xFFFF.
 */
public final class FpuState {
    /** FSW bits. */
    static final int FSW_IE = 0x1, FSW_SF = 0x40, FSW_ES = 0x80, FSW_C0 = 0x100, FSW_C1 = 0x200,
            FSW_C2 = 0x400, FSW_C3 = 0x4000, FSW_B = 0x8000;

    static final int MXCSR_DEFAULT = 0x1F80;
    /** Bits of MXCSR a guest may set (DAZ supported, so bit 6 is writable); others raise #GP on LDMXCSR. */
    public static final int MXCSR_MASK = 0xFFFF;

    /** Significands of physical registers R0..R7 (also the MMX registers). */
    final long[] significand = new long[8];
    /** Sign bit and 15-bit exponent of R0..R7. */
    final int[] signExponent = new int[8];
    /** Bit N set when physical register N is non-empty (the FXSAVE "abridged" tag byte). */
    int tagValid;
    int controlWord;
    /** Status word without TOP; TOP is kept separately in {@link #top}. */
    int statusWord;
    int top;
    /** Last x87 opcode (11 bits), instruction pointer and data pointer, as FXSAVE/FSTENV report them. */
    int lastOpcode;
    long lastIp;
    long lastDp;
    int mxcsr;
    /** XMM0..XMM15, two longs each: {@code xmm[2*n]} is bits 63:0, {@code xmm[2*n+1]} bits 127:64. */
    final long[] xmm = new long[32];

    public FpuState() {
        reset();
    }

    /** State after RESET (Intel SDM table 9-1): FCW 0x0040, everything else cleared, MXCSR 0x1F80. */
    public void reset() {
        initX87();
        controlWord = 0x0040;
        for (int i = 0; i < 8; i++) {
            significand[i] = 0;
            signExponent[i] = 0;
        }
        mxcsr = MXCSR_DEFAULT;
        java.util.Arrays.fill(xmm, 0);
    }

    /** What FNINIT does: FCW 0x037F, FSW 0, all registers tagged empty, pointers cleared. */
    void initX87() {
        controlWord = 0x037F;
        statusWord = 0;
        top = 0;
        tagValid = 0;
        lastOpcode = 0;
        lastIp = 0;
        lastDp = 0;
    }

    /** Snapshot: all x87, MMX and SSE registers, bit-exact. */
    public void save(dev.flint.machine.state.StateWriter.Section out) {
        out.putLongs(significand).putInts(signExponent).putLongs(xmm)
                .putInts(new int[] {tagValid, controlWord, statusWord, top, lastOpcode, mxcsr}).putLong(lastIp).putLong(lastDp);
    }

    public void restore(dev.flint.machine.state.StateReader.Section in) {
        in.readLongs(significand);
        in.readInts(signExponent);
        in.readLongs(xmm);
        int[] r = in.getInts(6);
        tagValid = r[0] & 0xFF; controlWord = r[1] & 0xFFFF; statusWord = r[2] & 0xFFFF; top = r[3] & 7; lastOpcode = r[4];
        mxcsr = r[5] & MXCSR_MASK;
        lastIp = in.getLong();
        lastDp = in.getLong();
    }

    public void copyFrom(FpuState other) {
        System.arraycopy(other.significand, 0, significand, 0, 8);
        System.arraycopy(other.signExponent, 0, signExponent, 0, 8);
        System.arraycopy(other.xmm, 0, xmm, 0, 32);
        tagValid = other.tagValid;
        controlWord = other.controlWord;
        statusWord = other.statusWord;
        top = other.top;
        lastOpcode = other.lastOpcode;
        lastIp = other.lastIp;
        lastDp = other.lastDp;
        mxcsr = other.mxcsr;
    }

    public int mxcsr() {
        return mxcsr;
    }

    /** Full status word as FNSTSW reports it (TOP merged into bits 13:11). */
    public int statusWord() {
        return (statusWord & ~0x3800) | (top << 11);
    }

    public int controlWord() {
        return controlWord;
    }

    public long xmmLow(int reg) {
        return xmm[2 * reg];
    }

    public long xmmHigh(int reg) {
        return xmm[2 * reg + 1];
    }

    public void setXmm(int reg, long low, long high) {
        xmm[2 * reg] = low;
        xmm[2 * reg + 1] = high;
    }

    /** MMX register value (significand of physical register {@code reg}). */
    public long mmx(int reg) {
        return significand[reg & 7];
    }

    /** Writes an MMX register the way hardware does: exponent word all ones, TOP 0, all tags valid. */
    void setMmx(int reg, long value) {
        significand[reg & 7] = value;
        signExponent[reg & 7] = 0xFFFF;
    }

    /** Every MMX instruction except EMMS: TOP := 0 and every register tagged valid. */
    void enterMmxMode() {
        top = 0;
        tagValid = 0xFF;
    }

    /**
     * The full 16-bit x87 tag word (2 bits per physical register: 00 valid, 01 zero, 10 special, 11
     * empty), derived from register contents as FSTENV and FXSAVE-to-FSAVE conversion require.
     */
    int fullTagWord() {
        int tw = 0;
        for (int i = 0; i < 8; i++) {
            int tag;
            if ((tagValid & (1 << i)) == 0) {
                tag = 3;
            } else {
                int exp = signExponent[i] & 0x7FFF;
                long sig = significand[i];
                if (exp == 0x7FFF) {
                    tag = 2;
                } else if (exp == 0) {
                    tag = sig == 0 ? 1 : 2;
                } else {
                    tag = sig < 0 ? 0 : 2; // integer bit clear = unnormal = special
                }
            }
            tw |= tag << (2 * i);
        }
        return tw;
    }

    /** Sets the valid bits from a full tag word (FLDENV/FRSTOR); the zero/special distinction is recomputed. */
    void setFullTagWord(int tw) {
        int valid = 0;
        for (int i = 0; i < 8; i++) {
            if (((tw >>> (2 * i)) & 3) != 3) {
                valid |= 1 << i;
            }
        }
        tagValid = valid;
    }
}
