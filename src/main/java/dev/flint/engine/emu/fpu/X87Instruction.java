package dev.flint.engine.emu.fpu;

import dev.flint.engine.emu.fpu.ExtendedArithmetic.Ext80;
import dev.flint.engine.emu.fpu.SoftFloat.Format;

import static dev.flint.engine.emu.fpu.FpuState.FSW_C0;
import static dev.flint.engine.emu.fpu.FpuState.FSW_C1;
import static dev.flint.engine.emu.fpu.FpuState.FSW_C2;
import static dev.flint.engine.emu.fpu.FpuState.FSW_C3;
import static dev.flint.engine.emu.fpu.FpuState.FSW_SF;

/**
 * One x87 instruction being executed. Registers hold exact 80-bit values. Loads, stores and integer
 * conversions round exactly through {@link Extended80}; arithmetic, compares, FSQRT, FPREM, FRNDINT and
 * FSCALE are exact through {@link ExtendedArithmetic}; only the transcendentals go through IEEE double.
 */
final class X87Instruction {
    private static final Format D = Format.DOUBLE;
    private static final long ONE_SIG = Long.MIN_VALUE;
    private static final int CC_MASK = FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3;

    /** Thrown inside an instruction when an unmasked invalid/denormal/zero-divide exception aborts it. */
    private static final class Aborted extends RuntimeException {
        Aborted() {
            super(null, null, false, false);
        }
    }

    private final FpuState s;
    private final FpuHost h;
    private final int opcode;
    private final int modrm;
    private final int mod;
    private final int regField;
    private final int rmField;
    private final long addr;
    private final long ip;
    private final long rflags;
    private final SoftFloat env;
    private final ExtendedArithmetic ext;
    private final long[] scratch = new long[1];

    X87Instruction(FpuState s, FpuHost h, int opcode, int modrm, long addr, long ip, long rflags) {
        this.s = s;
        this.h = h;
        this.opcode = opcode;
        this.modrm = modrm;
        this.mod = modrm >>> 6;
        this.regField = (modrm >>> 3) & 7;
        this.rmField = modrm & 7;
        this.addr = addr;
        this.ip = ip;
        this.rflags = rflags;
        this.env = SoftFloat.fromControlWord(s.controlWord);
        this.ext = ExtendedArithmetic.fromControlWord(s.controlWord);
    }

    private boolean memory() {
        return mod != 3;
    }

    /** Control instructions neither wait for pending exceptions nor update FIP/FDP/FOP. */
    private boolean isNonWaiting() {
        if (memory()) {
            return (opcode == 0xD9 && (regField == 6 || regField == 7)) || (opcode == 0xDD && (regField == 6 || regField == 7));
        }
        return (opcode == 0xDB && (modrm == 0xE2 || modrm == 0xE3)) || (opcode == 0xDF && modrm == 0xE0);
    }

    private boolean isControl() {
        if (isNonWaiting()) {
            return true;
        }
        return memory() && ((opcode == 0xD9 && (regField == 4 || regField == 5)) || (opcode == 0xDD && regField == 4));
    }

    boolean execute() {
        if ((h.cr0() & 0xC) != 0) { // CR0.EM or CR0.TS
            throw h.fault(SseInstruction.NM, 0);
        }
        if (!isNonWaiting() && (s.statusWord & FpuState.FSW_ES) != 0) {
            throw h.fault(SseInstruction.MF, 0);
        }
        boolean control = isControl();
        boolean known;
        try {
            known = memory() ? memoryForm() : registerForm();
        } catch (Aborted aborted) {
            known = true;
        }
        if (known && !control) {
            s.lastIp = ip;
            s.lastOpcode = ((opcode & 7) << 8) | modrm;
            if (memory()) {
                s.lastDp = addr;
            }
        }
        if (!control) {
            X87Unit.updateSummary(s);
        }
        return known;
    }

    // ---- stack ----

    private int phys(int i) {
        return (s.top + i) & 7;
    }

    private boolean empty(int i) {
        return (s.tagValid & (1 << phys(i))) == 0;
    }

    private void raise(int flags) {
        s.statusWord |= flags;
        if ((flags & ~s.controlWord & (SoftFloat.IE | SoftFloat.DE | SoftFloat.ZE)) != 0) {
            throw new Aborted();
        }
    }

    private void stackFault(boolean overflow) {
        s.statusWord = overflow ? s.statusWord | FSW_C1 : s.statusWord & ~FSW_C1;
        raise(SoftFloat.IE | FSW_SF);
    }

    /** ST(i) as a double bit pattern; an empty register is a stack underflow (masked: QNaN indefinite). */
    private long st(int i) {
        if (empty(i)) {
            stackFault(false);
            return D.defaultNaN;
        }
        int p = phys(i);
        long sig = s.significand[p];
        int se = s.signExponent[p];
        if (Extended80.isNaN(sig, se)) { // keep signaling-ness so the operation raises IE itself
            long frac = (sig & Long.MAX_VALUE) >>> 11;
            return ((se & 0x8000L) << 48) | D.inf | (frac == 0 ? 1 : frac);
        }
        SoftFloat silent = new SoftFloat(SoftFloat.RN, false, false, true);
        long bits = Extended80.toFormat(sig, se, D, silent);
        env.flags |= silent.flags & SoftFloat.IE;
        if ((se & 0x7FFF) == 0 && sig != 0) {
            env.flags |= SoftFloat.DE; // a denormal operand of the (approximated) operation
        }
        return bits;
    }

    /** ST(i) as an exact 80-bit value; an empty register is a stack underflow (masked: QNaN indefinite). */
    private Ext80 stExt(int i) {
        if (empty(i)) {
            stackFault(false);
            return Ext80.INDEFINITE;
        }
        return new Ext80(s.significand[phys(i)], s.signExponent[phys(i)]);
    }

    private void setStExt(int i, Ext80 v) {
        setStExt(i, v.significand(), v.signExponent());
    }

    private void setStExt(int i, long sig, int se) {
        int p = phys(i);
        s.significand[p] = sig;
        s.signExponent[p] = se & 0xFFFF;
        s.tagValid |= 1 << p;
    }

    private void setSt(int i, long doubleBits) {
        int se = Extended80.fromFormat(doubleBits, D, scratch);
        setStExt(i, scratch[0], se);
    }

    private void push(long sig, int se) {
        if (!empty(-1)) {
            stackFault(true);
            sig = Extended80.INDEFINITE_SIGNIFICAND;
            se = Extended80.INDEFINITE_SIGN_EXPONENT;
        }
        s.top = (s.top - 1) & 7;
        setStExt(0, sig, se);
    }

    private void pushDouble(long bits) {
        int se = Extended80.fromFormat(bits, D, scratch);
        push(scratch[0], se);
    }

    private void pop() {
        s.tagValid &= ~(1 << phys(0));
        s.top = (s.top + 1) & 7;
    }

    /** Publishes env's flags; aborts (no result written) on an unmasked pre-computation exception. */
    private void checkFlags() {
        s.statusWord &= ~FSW_C1;
        if (ext.roundedUp && (ext.flags & SoftFloat.PE) != 0) {
            s.statusWord |= FSW_C1; // C1 reports "rounded up" along with PE
        }
        raise(env.flags | ext.flags);
    }

    private void setConditionCodes(int cc) {
        s.statusWord = (s.statusWord & ~CC_MASK) | cc;
    }

    // ---- memory forms ----

    /** The D8/DA/DC/DE memory operand, converted exactly: m32real, m32int, m64real, m16int. */
    private Ext80 memoryOperand(int kind) {
        long[] sig = new long[1];
        int se = switch (kind) {
            case 0 -> realOperand(h.readMem(addr, 4), Format.SINGLE, sig);
            case 1 -> Extended80.fromInteger((int) h.readMem(addr, 4), sig);
            case 2 -> realOperand(h.readMem(addr, 8), D, sig);
            default -> Extended80.fromInteger((short) h.readMem(addr, 2), sig);
        };
        return new Ext80(sig[0], se);
    }

    private int realOperand(long bits, Format f, long[] sig) {
        if (f.isDenormal(bits)) {
            ext.flags |= SoftFloat.DE;
        }
        return Extended80.fromFormat(bits, f, sig);
    }

    private boolean memoryForm() {
        switch (opcode) {
            case 0xD8, 0xDA, 0xDC, 0xDE -> {
                Ext80 b = memoryOperand((opcode - 0xD8) / 2);
                if (regField == 2 || regField == 3) {
                    compare(stExt(0), b, true, regField == 3 ? 1 : 0);
                } else {
                    arithmetic(0, regField, b, false);
                }
            }
            case 0xD9 -> {
                switch (regField) {
                    case 0 -> loadReal(h.readMem(addr, 4), Format.SINGLE);
                    case 2, 3 -> storeReal(Format.SINGLE, regField == 3);
                    case 4 -> FxsaveArea.loadEnvironment(s, h, addr);
                    case 5 -> {
                        s.controlWord = (int) h.readMem(addr, 2);
                        X87Unit.updateSummary(s);
                    }
                    case 6 -> FxsaveArea.storeEnvironment(s, h, addr);
                    case 7 -> h.writeMem(addr, 2, s.controlWord);
                    default -> {
                        return false;
                    }
                }
            }
            case 0xDB -> {
                switch (regField) {
                    case 0, 1, 2, 3 -> integerMemoryForm(32);
                    case 5 -> push(h.readMem(addr, 8), (int) h.readMem(addr + 8, 2));
                    case 7 -> {
                        if (empty(0)) {
                            stackFault(false);
                            h.writeMem(addr, 8, Extended80.INDEFINITE_SIGNIFICAND);
                            h.writeMem(addr + 8, 2, Extended80.INDEFINITE_SIGN_EXPONENT);
                        } else {
                            h.writeMem(addr, 8, s.significand[phys(0)]);
                            h.writeMem(addr + 8, 2, s.signExponent[phys(0)]);
                        }
                        pop();
                    }
                    default -> {
                        return false;
                    }
                }
            }
            case 0xDD -> {
                switch (regField) {
                    case 0 -> loadReal(h.readMem(addr, 8), D);
                    case 1 -> storeInteger(64, true, true);
                    case 2, 3 -> storeReal(D, regField == 3);
                    case 4 -> FxsaveArea.restore87(s, h, addr);
                    case 6 -> FxsaveArea.save87(s, h, addr);
                    case 7 -> h.writeMem(addr, 2, s.statusWord());
                    default -> {
                        return false;
                    }
                }
            }
            case 0xDF -> {
                switch (regField) {
                    case 0, 1, 2, 3 -> integerMemoryForm(16);
                    case 5 -> loadInteger(h.readMem(addr, 8));
                    case 4 -> loadBcd();
                    case 6 -> storeBcd();
                    case 7 -> storeInteger(64, false, true);
                    default -> {
                        return false;
                    }
                }
            }
            default -> {
                return false;
            }
        }
        return true;
    }

    /** /0 FILD, /1 FISTTP, /2 FIST, /3 FISTP on a 16- or 32-bit integer (DF, DB). */
    private void integerMemoryForm(int sizeBits) {
        if (regField == 0) {
            long raw = h.readMem(addr, sizeBits / 8);
            loadInteger(sizeBits == 16 ? (short) raw : (int) raw);
        } else {
            storeInteger(sizeBits, regField == 1, regField != 2);
        }
    }

    private void loadReal(long bits, Format f) {
        if (f.isSNaN(bits)) {
            env.flags |= SoftFloat.IE;
            bits = SoftFloat.quiet(bits, f);
        } else if (f.isDenormal(bits)) {
            env.flags |= SoftFloat.DE;
        }
        checkFlags();
        int se = Extended80.fromFormat(bits, f, scratch);
        push(scratch[0], se);
    }

    private void loadInteger(long value) {
        int se = Extended80.fromInteger(value, scratch);
        push(scratch[0], se);
    }

    private void storeReal(Format f, boolean popAfter) {
        long bits;
        if (empty(0)) {
            stackFault(false);
            bits = f.defaultNaN;
        } else {
            bits = Extended80.toFormat(s.significand[phys(0)], s.signExponent[phys(0)], f, env);
            checkFlags();
        }
        h.writeMem(addr, f.width / 8, bits);
        if (popAfter) {
            pop();
        }
    }

    private void storeInteger(int sizeBits, boolean truncate, boolean popAfter) {
        long v;
        if (empty(0)) {
            stackFault(false);
            v = SoftFloat.integerIndefinite(sizeBits);
        } else {
            v = Extended80.toInteger(s.significand[phys(0)], s.signExponent[phys(0)], sizeBits, truncate, env);
            checkFlags();
        }
        h.writeMem(addr, sizeBits / 8, v);
        if (popAfter) {
            pop();
        }
    }

    /** Largest magnitude packed BCD holds: 18 decimal digits. */
    private static final long BCD_MAX = 999_999_999_999_999_999L;

    /** FBLD m80: 18 BCD digits, two per byte with the low nibble less significant, sign in bit 79. */
    private void loadBcd() {
        long low = h.readMem(addr, 8);
        long high = h.readMem(addr + 8, 2);
        long v = 0;
        for (int i = 8; i >= 0; i--) {
            int b = (int) ((i == 8 ? high : low >>> (8 * i)) & 0xFF);
            v = v * 100 + (b >>> 4) * 10 + (b & 0xF); // nibbles above 9 are undefined; taken at face value
        }
        int se = Extended80.fromInteger(v, scratch);
        push(scratch[0], se | (int) (high & 0x8000));
    }

    /**
     * FBSTP m80: ST0 rounded to an integer in the current rounding mode, stored as packed BCD, then popped.
     * NaNs, infinities and magnitudes beyond 18 digits raise IE and store the BCD indefinite.
     */
    private void storeBcd() {
        long v = 0;
        boolean negative = true;
        boolean indefinite = true;
        if (empty(0)) {
            stackFault(false);
        } else {
            int se = s.signExponent[phys(0)];
            negative = (se & 0x8000) != 0;
            v = Extended80.toInteger(s.significand[phys(0)], se, 64, false, env);
            if ((env.flags & SoftFloat.IE) == 0 && (v > BCD_MAX || v < -BCD_MAX)) { // also -2^63
                env.flags = (env.flags & ~SoftFloat.PE) | SoftFloat.IE;
            }
            indefinite = (env.flags & SoftFloat.IE) != 0;
            checkFlags();
        }
        long low = 0xC000_0000_0000_0000L; // the packed BCD indefinite: FFFF C000 0000 0000 0000
        long high = 0xFFFF;
        if (!indefinite) {
            low = 0;
            high = negative ? 0x8000 : 0;
            long m = Math.abs(v);
            for (int i = 0; i < 9; i++, m /= 100) {
                long b = (m % 10) | (m / 10 % 10) << 4;
                if (i == 8) {
                    high |= b;
                } else {
                    low |= b << (8 * i);
                }
            }
        }
        h.writeMem(addr, 8, low);
        h.writeMem(addr + 8, 2, high);
        pop();
    }

    // ---- arithmetic and compares ----

    /**
     * {@code ST(dst) = ST(dst) op b} where op is the D8-style /digit (0 add, 1 mul, 4 sub, 5 subr, 6 div,
     * 7 divr); {@code reversedEncoding} swaps sub/subr and div/divr as the DC/DE register forms do.
     */
    private void arithmetic(int dst, int op, Ext80 b, boolean reversedEncoding) {
        if (reversedEncoding && op >= 4) {
            op ^= 1;
        }
        Ext80 a = stExt(dst);
        Ext80 r = switch (op) {
            case 0 -> ext.add(a, b, false);
            case 1 -> ext.mul(a, b);
            case 4 -> ext.add(a, b, true);
            case 5 -> ext.add(b, a, true);
            case 6 -> ext.div(a, b);
            default -> ext.div(b, a);
        };
        checkFlags();
        setStExt(dst, r);
    }

    private void compare(Ext80 a, Ext80 b, boolean signaling, int pops) {
        int c = ext.compare(a, b, signaling);
        checkFlags();
        setConditionCodes(switch (c) {
            case SoftFloat.LESS -> FSW_C0;
            case SoftFloat.EQUAL -> FSW_C3;
            case SoftFloat.GREATER -> 0;
            default -> FSW_C0 | FSW_C2 | FSW_C3;
        });
        for (int i = 0; i < pops; i++) {
            pop();
        }
    }

    private void compareToEflags(int i, boolean signaling, boolean popAfter) {
        int c = ext.compare(stExt(0), stExt(i), signaling);
        checkFlags();
        boolean unordered = c == SoftFloat.UNORDERED;
        h.setCompareFlags(unordered || c == SoftFloat.EQUAL, unordered, unordered || c == SoftFloat.LESS);
        if (popAfter) {
            pop();
        }
    }

    // ---- register forms ----

    private boolean registerForm() {
        int i = rmField;
        switch (opcode) {
            case 0xD8 -> {
                if (regField == 2 || regField == 3) {
                    compare(stExt(0), stExt(i), true, regField == 3 ? 1 : 0);
                } else {
                    arithmetic(0, regField, stExt(i), false);
                }
            }
            case 0xDC -> {
                if (regField == 2 || regField == 3) {
                    compare(stExt(0), stExt(i), true, regField == 3 ? 1 : 0);
                } else {
                    arithmetic(i, regField, stExt(0), true);
                }
            }
            case 0xDE -> {
                if (modrm == 0xD9) {
                    compare(stExt(0), stExt(1), true, 2);
                } else if (regField == 2 || regField == 3) {
                    return false;
                } else {
                    arithmetic(i, regField, stExt(0), true);
                    pop();
                }
            }
            case 0xD9 -> {
                return registerD9();
            }
            case 0xDA -> {
                if (modrm == 0xE9) {
                    compare(stExt(0), stExt(1), false, 2);
                } else if (regField < 4) {
                    conditionalMove(regField, false);
                } else {
                    return false;
                }
            }
            case 0xDB -> {
                switch (regField) {
                    case 0, 1, 2, 3 -> conditionalMove(regField, true);
                    case 4 -> {
                        switch (modrm) {
                            case 0xE2 -> s.statusWord &= ~(0x3F | FSW_SF | FpuState.FSW_ES | FpuState.FSW_B);
                            case 0xE3 -> s.initX87();
                            case 0xE0, 0xE1, 0xE4 -> { } // FENI, FDISI, FSETPM: no-ops on a 387+
                            default -> {
                                return false;
                            }
                        }
                    }
                    case 5 -> compareToEflags(i, false, false);
                    case 6 -> compareToEflags(i, true, false);
                    default -> {
                        return false;
                    }
                }
            }
            case 0xDD -> {
                switch (regField) {
                    case 0 -> s.tagValid &= ~(1 << phys(i));
                    case 2, 3 -> {
                        if (empty(0)) {
                            stackFault(false);
                            setStExt(i, Extended80.INDEFINITE_SIGNIFICAND, Extended80.INDEFINITE_SIGN_EXPONENT);
                        } else {
                            setStExt(i, s.significand[phys(0)], s.signExponent[phys(0)]);
                            s.statusWord &= ~FSW_C1;
                        }
                        if (regField == 3) {
                            pop();
                        }
                    }
                    case 4 -> compare(stExt(0), stExt(i), false, 0);
                    case 5 -> compare(stExt(0), stExt(i), false, 1);
                    default -> {
                        return false;
                    }
                }
            }
            case 0xDF -> {
                switch (regField) {
                    case 0 -> { // FFREEP
                        s.tagValid &= ~(1 << phys(i));
                        pop();
                    }
                    case 4 -> {
                        if (modrm != 0xE0) {
                            return false;
                        }
                        h.writeGpr(0, s.statusWord(), 2);
                    }
                    case 5 -> compareToEflags(i, false, true);
                    case 6 -> compareToEflags(i, true, true);
                    default -> {
                        return false;
                    }
                }
            }
            default -> {
                return false;
            }
        }
        return true;
    }

    /** FCMOVcc: DA = B/E/BE/U, DB = the negations. */
    private void conditionalMove(int condition, boolean negate) {
        boolean cf = (rflags & 1) != 0;
        boolean pf = (rflags & 4) != 0;
        boolean zf = (rflags & 0x40) != 0;
        boolean take = switch (condition) {
            case 0 -> cf;
            case 1 -> zf;
            case 2 -> cf || zf;
            default -> pf;
        };
        if (empty(0) || empty(rmField)) {
            stackFault(false);
            setStExt(0, Extended80.INDEFINITE_SIGNIFICAND, Extended80.INDEFINITE_SIGN_EXPONENT);
            return;
        }
        if (take != negate) {
            setStExt(0, s.significand[phys(rmField)], s.signExponent[phys(rmField)]);
        }
    }

    private boolean registerD9() {
        int i = rmField;
        switch (regField) {
            case 0 -> { // FLD ST(i)
                if (empty(i)) {
                    stackFault(false);
                    push(Extended80.INDEFINITE_SIGNIFICAND, Extended80.INDEFINITE_SIGN_EXPONENT);
                } else {
                    push(s.significand[phys(i)], s.signExponent[phys(i)]);
                }
            }
            case 1 -> { // FXCH
                if (empty(0) || empty(i)) {
                    stackFault(false);
                    for (int r : new int[] {0, i}) {
                        if (empty(r)) {
                            setStExt(r, Extended80.INDEFINITE_SIGNIFICAND, Extended80.INDEFINITE_SIGN_EXPONENT);
                        }
                    }
                }
                int a = phys(0);
                int b = phys(i);
                long sig = s.significand[a];
                int se = s.signExponent[a];
                s.significand[a] = s.significand[b];
                s.signExponent[a] = s.signExponent[b];
                s.significand[b] = sig;
                s.signExponent[b] = se;
                s.statusWord &= ~FSW_C1;
            }
            case 2 -> {
                if (modrm != 0xD0) { // FNOP
                    return false;
                }
            }
            case 4 -> {
                return signAndClassify();
            }
            case 5 -> {
                return loadConstant();
            }
            case 6, 7 -> {
                return transcendentalOrStack();
            }
            default -> {
                return false;
            }
        }
        return true;
    }

    /** D9 E0..E5: FCHS, FABS, FTST, FXAM. */
    private boolean signAndClassify() {
        switch (modrm) {
            case 0xE0, 0xE1 -> {
                if (empty(0)) {
                    stackFault(false);
                    setStExt(0, Extended80.INDEFINITE_SIGNIFICAND, Extended80.INDEFINITE_SIGN_EXPONENT);
                    return true;
                }
                int p = phys(0);
                s.signExponent[p] = modrm == 0xE0 ? s.signExponent[p] ^ 0x8000 : s.signExponent[p] & 0x7FFF;
                s.statusWord &= ~FSW_C1;
            }
            case 0xE4 -> compare(stExt(0), Ext80.ZERO, true, 0);
            case 0xE5 -> examine();
            default -> {
                return false;
            }
        }
        return true;
    }

    private void examine() {
        int p = phys(0);
        long sig = s.significand[p];
        int se = s.signExponent[p];
        int exp = se & 0x7FFF;
        int cc;
        if (empty(0)) {
            cc = FSW_C3 | FSW_C0;
        } else if (Extended80.isUnsupported(sig, se)) {
            cc = 0;
        } else if (exp == 0x7FFF) {
            cc = (sig << 1) == 0 ? FSW_C2 | FSW_C0 : FSW_C0;
        } else if (exp == 0) {
            cc = sig == 0 ? FSW_C3 : FSW_C3 | FSW_C2;
        } else {
            cc = FSW_C2;
        }
        if ((se & 0x8000) != 0) {
            cc |= FSW_C1;
        }
        setConditionCodes(cc);
    }

    /** D9 E8..EE: FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ (64-bit significands, RC-adjusted). */
    private boolean loadConstant() {
        int rc = (s.controlWord >>> 10) & 3;
        boolean down = rc == SoftFloat.RD || rc == SoftFloat.RZ;
        boolean up = rc == SoftFloat.RU;
        switch (modrm) {
            case 0xE8 -> push(ONE_SIG, 0x3FFF);
            case 0xE9 -> push(0xD49A784BCD1B8AFEL + (up ? 1 : 0), 0x4000); // log2(10), rounded down by RN
            case 0xEA -> push(0xB8AA3B295C17F0BCL - (down ? 1 : 0), 0x3FFF); // log2(e), rounded up by RN
            case 0xEB -> push(0xC90FDAA22168C235L - (down ? 1 : 0), 0x4000); // pi
            case 0xEC -> push(0x9A209A84FBCFF799L - (down ? 1 : 0), 0x3FFD); // log10(2)
            case 0xED -> push(0xB17217F7D1CF79ACL - (down ? 1 : 0), 0x3FFE); // ln(2)
            case 0xEE -> push(0, 0);
            default -> {
                return false;
            }
        }
        return true;
    }

    /** D9 F0..FF. Transcendentals use StrictMath in double precision (not bit-exact to hardware). */
    private boolean transcendentalOrStack() {
        switch (modrm) {
            case 0xF6 -> { // FDECSTP
                s.top = (s.top - 1) & 7;
                s.statusWord &= ~FSW_C1;
            }
            case 0xF7 -> { // FINCSTP
                s.top = (s.top + 1) & 7;
                s.statusWord &= ~FSW_C1;
            }
            case 0xFA -> {
                Ext80 r = ext.sqrt(stExt(0));
                checkFlags();
                setStExt(0, r);
            }
            case 0xFC -> roundToIntegral();
            case 0xFD -> scale();
            case 0xF8, 0xF5 -> partialRemainder(modrm == 0xF5);
            case 0xF4 -> extract();
            case 0xF0 -> unary(approx(st(0), x -> StrictMath.expm1(x * Math.log(2))));
            case 0xFE, 0xFF, 0xF2, 0xFB -> trig(modrm);
            case 0xF1, 0xF3, 0xF9 -> binaryPop(modrm);
            default -> {
                return false;
            }
        }
        return true;
    }

    private void unary(long result) {
        checkFlags();
        setSt(0, result);
    }

    /** Evaluates a non-IEEE function of a double in double precision, passing NaNs through. */
    private long approx(long bits, java.util.function.DoubleUnaryOperator fn) {
        if (D.isNaN(bits)) {
            return env.propagateNaN(bits, bits, D);
        }
        double r = fn.applyAsDouble(D.toDouble(bits));
        if (Double.isNaN(r)) {
            return env.invalid(D);
        }
        if (r != Math.rint(r) || Double.isInfinite(r)) {
            env.flags |= SoftFloat.PE;
        }
        return Double.doubleToRawLongBits(r);
    }

    private void roundToIntegral() {
        Ext80 r = ext.roundToIntegral(stExt(0));
        checkFlags();
        setStExt(0, r);
    }

    /** FSCALE: ST0 * 2^trunc(ST1), rounded once. */
    private void scale() {
        Ext80 r = ext.scale(stExt(0), stExt(1));
        checkFlags();
        setStExt(0, r);
    }

    /**
     * FPREM (truncating) / FPREM1 (IEEE): exact remainder; C2 set when the reduction was only partial (the
     * guest repeats the instruction), otherwise the low quotient bits in C0, C3, C1. A NaN result (invalid
     * operation or NaN operand) clears C1 and C2 and leaves C0 and C3 as they were, as the host does.
     */
    private void partialRemainder(boolean ieee) {
        Ext80 r = ext.remainder(stExt(0), stExt(1), ieee);
        int q = ext.quotientBits;
        checkFlags();
        if (r.isNaN()) {
            setConditionCodes(s.statusWord & (FSW_C0 | FSW_C3));
        } else {
            setConditionCodes(((q & 4) != 0 ? FSW_C0 : 0) | ((q & 2) != 0 ? FSW_C3 : 0) | ((q & 1) != 0 ? FSW_C1 : 0)
                    | (ext.incomplete ? FSW_C2 : 0));
        }
        setStExt(0, r);
    }

    /** FXTRACT: ST0 becomes the unbiased exponent, then the significand is pushed. */
    private void extract() {
        if (empty(0)) {
            stackFault(false);
            return;
        }
        int p = phys(0);
        long sig = s.significand[p];
        int se = s.signExponent[p];
        int exp = se & 0x7FFF;
        if (exp == 0 && sig == 0) {
            env.flags |= SoftFloat.ZE;
            checkFlags();
            setSt(0, Double.doubleToRawLongBits(Double.NEGATIVE_INFINITY));
            push(0, se & 0x8000);
            return;
        }
        if (exp == 0x7FFF) {
            if ((sig << 1) == 0) {
                setStExt(0, ONE_SIG, 0x7FFF);
                push(sig, se);
            } else {
                push(sig | (1L << 62), se);
            }
            return;
        }
        int unbiased = exp == 0 ? 1 - Extended80.BIAS - Long.numberOfLeadingZeros(sig) : exp - Extended80.BIAS;
        long normSig = exp == 0 ? sig << Long.numberOfLeadingZeros(sig) : sig;
        int se2 = Extended80.fromInteger(unbiased, scratch);
        setStExt(0, scratch[0], se2);
        push(normSig, (se & 0x8000) | Extended80.BIAS);
    }

    /** FSIN, FCOS, FPTAN, FSINCOS: out-of-range operands (|x| >= 2^63) set C2 and leave ST0 alone. */
    private void trig(int which) {
        long a = st(0);
        double x = D.toDouble(a);
        if (!D.isNaN(a) && Math.abs(x) >= 0x1p63 && !Double.isInfinite(x)) {
            setConditionCodes(FSW_C2);
            return;
        }
        setConditionCodes(0);
        if (Double.isInfinite(x)) {
            unary(env.invalid(D));
            return;
        }
        switch (which) {
            case 0xFE -> unary(approx(a, StrictMath::sin));
            case 0xFF -> unary(approx(a, StrictMath::cos));
            case 0xF2 -> {
                unary(approx(a, StrictMath::tan));
                pushDouble(Double.doubleToRawLongBits(1.0));
            }
            default -> {
                long cos = approx(a, StrictMath::cos);
                unary(approx(a, StrictMath::sin));
                pushDouble(cos);
            }
        }
    }

    /** FYL2X, FPATAN, FYL2XP1: ST1 = f(ST1, ST0), then pop. */
    private void binaryPop(int which) {
        long x = st(0);
        long y = st(1);
        long r;
        if (D.isNaN(x) || D.isNaN(y)) {
            r = env.propagateNaN(x, y, D);
        } else {
            double vx = D.toDouble(x);
            double vy = D.toDouble(y);
            double v = switch (which) {
                case 0xF1 -> vx < 0 ? Double.NaN : vx == 0 && vy == 0 ? Double.NaN : vy * (StrictMath.log(vx) / Math.log(2));
                case 0xF3 -> StrictMath.atan2(vy, vx);
                default -> vy * (StrictMath.log1p(vx) / Math.log(2));
            };
            if (which == 0xF1 && vx == 0 && vy != 0) {
                env.flags |= SoftFloat.ZE;
            }
            r = Double.isNaN(v) ? env.invalid(D) : Double.doubleToRawLongBits(v);
            if (!Double.isNaN(v) && v != 0 && !Double.isInfinite(v)) {
                env.flags |= SoftFloat.PE;
            }
        }
        checkFlags();
        setSt(1, r);
        pop();
    }
}
