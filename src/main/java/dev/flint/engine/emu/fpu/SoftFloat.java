package dev.flint.engine.emu.fpu;

import java.math.BigInteger;

/**
 * IEEE 754 single/double arithmetic with x86 semantics: any of the four rounding modes, the six exception
 * flags, denormals-are-zero, flush-to-zero, and the x86 NaN rules (first NaN operand quieted; invalid
 * operations produce the negative "QNaN indefinite").
 *
 * <p>One instance is the floating-point environment of one instruction: construct it from MXCSR (or the
 * x87 control word), run the lane operations, then read {@link #flags}. Values travel as raw bit patterns
 * in a {@code long} (low 32 bits for single precision) so NaN payloads survive.
 *
 * <p>How results stay exact: the operation is first done in Java {@code double} (IEEE round-to-nearest);
 * the sign of the rounding error is then recovered exactly (TwoSum for add, {@link Math#fma} for
 * mul/div/sqrt) and the exact value, known to lie strictly between the double result and its neighbour,
 * is rounded to the target format and mode by {@link #round}. Single-precision operands widened to double
 * always satisfy the exactness conditions of those error terms (and double rounding through 53 bits is
 * innocuous for +,-,*,/,sqrt of 24-bit values). Double operands far from 1.0 take an exact
 * {@link BigInteger} path instead.
 */
final class SoftFloat {
    static final int IE = 0x01, DE = 0x02, ZE = 0x04, OE = 0x08, UE = 0x10, PE = 0x20;
    /** Rounding-control encodings shared by MXCSR.RC and FCW.RC. */
    static final int RN = 0, RD = 1, RU = 2, RZ = 3;

    enum Format {
        SINGLE(24, 8), DOUBLE(53, 11);

        final int precision;
        final int bias;
        final int expField;
        final long signBit;
        final long fracMask;
        final long quietBit;
        final long defaultNaN;
        final long maxFinite;
        final long inf;
        final int width;

        Format(int precision, int expBits) {
            this.precision = precision;
            this.width = precision + expBits;
            this.bias = (1 << (expBits - 1)) - 1;
            this.expField = (1 << expBits) - 1;
            this.signBit = 1L << (width - 1);
            this.fracMask = (1L << (precision - 1)) - 1;
            this.quietBit = 1L << (precision - 2);
            this.inf = (long) expField << (precision - 1);
            this.maxFinite = inf - 1;
            this.defaultNaN = signBit | inf | quietBit;
        }

        int exponentField(long bits) {
            return (int) (bits >>> (precision - 1)) & expField;
        }

        boolean isNaN(long bits) {
            return exponentField(bits) == expField && (bits & fracMask) != 0;
        }

        boolean isSNaN(long bits) {
            return isNaN(bits) && (bits & quietBit) == 0;
        }

        boolean isInf(long bits) {
            return (bits & ~signBit) == inf;
        }

        boolean isZero(long bits) {
            return (bits & ~signBit) == 0;
        }

        boolean isDenormal(long bits) {
            return exponentField(bits) == 0 && (bits & fracMask) != 0;
        }

        boolean negative(long bits) {
            return (bits & signBit) != 0;
        }

        double toDouble(long bits) {
            return this == SINGLE ? Float.intBitsToFloat((int) bits) : Double.longBitsToDouble(bits);
        }

        /** Only for values already exactly representable in this format (and not NaN). */
        long fromDouble(double d) {
            return this == SINGLE ? Float.floatToRawIntBits((float) d) & 0xFFFFFFFFL : Double.doubleToRawLongBits(d);
        }

        /** The significand as an integer, hidden bit included (finite values). */
        long significand(long bits) {
            long frac = bits & fracMask;
            return exponentField(bits) == 0 ? frac : frac | (fracMask + 1);
        }

        /** The exponent of the significand's last bit: value = significand * 2^lsbExponent (finite values). */
        int lsbExponent(long bits) {
            return Math.max(exponentField(bits), 1) - bias - (precision - 1);
        }

        long zero(boolean negative) {
            return negative ? signBit : 0;
        }
    }

    final int rounding;
    final boolean flushToZero;
    final boolean denormalsAreZero;
    final boolean underflowMasked;
    /** x87 NaN selection (larger significand, QNaN over SNaN) instead of the SSE first-operand rule. */
    private boolean x87NanRule;
    int flags;

    SoftFloat(int rounding, boolean flushToZero, boolean denormalsAreZero, boolean underflowMasked) {
        this.rounding = rounding;
        this.flushToZero = flushToZero;
        this.denormalsAreZero = denormalsAreZero;
        this.underflowMasked = underflowMasked;
    }

    /** Environment described by an MXCSR value. */
    static SoftFloat fromMxcsr(int mxcsr) {
        return new SoftFloat((mxcsr >>> 13) & 3, (mxcsr & 0x8000) != 0, (mxcsr & 0x40) != 0, (mxcsr & 0x800) != 0);
    }

    /** Environment described by an x87 control word: its RC field and underflow mask, no DAZ/FTZ. */
    static SoftFloat fromControlWord(int fcw) {
        SoftFloat env = new SoftFloat((fcw >>> 10) & 3, false, false, (fcw & UE) != 0);
        env.x87NanRule = true;
        return env;
    }

    // ---- NaN and operand handling ----

    static long quiet(long bits, Format f) {
        return bits | f.quietBit;
    }

    /** SSE rule: the first NaN source (the destination operand) wins, quieted; an SNaN anywhere raises IE. */
    long propagateNaN(long a, long b, Format f) {
        if (f.isSNaN(a) || f.isSNaN(b)) {
            flags |= IE;
        }
        if (x87NanRule && f.isNaN(a) && f.isNaN(b)) {
            boolean aQuiet = (a & f.quietBit) != 0;
            boolean bQuiet = (b & f.quietBit) != 0;
            if (aQuiet != bQuiet) {
                return quiet(aQuiet ? a : b, f);
            }
            long fa = a & f.fracMask;
            long fb = b & f.fracMask;
            return quiet(fa > fb || (fa == fb && !f.negative(a)) ? a : b, f); // tie: the positive one
        }
        return quiet(f.isNaN(a) ? a : b, f);
    }

    /** Applies DAZ to a denormal operand, or flags DE. */
    long operand(long bits, Format f) {
        if (f.isDenormal(bits)) {
            if (denormalsAreZero) {
                return bits & f.signBit;
            }
            flags |= DE;
        }
        return bits;
    }

    long invalid(Format f) {
        flags |= IE;
        return f.defaultNaN;
    }

    // ---- arithmetic ----

    enum Op { ADD, SUB, MUL, DIV }

    long add(long a, long b, Format f) {
        return arith(Op.ADD, a, b, f);
    }

    long sub(long a, long b, Format f) {
        return arith(Op.SUB, a, b, f);
    }

    long mul(long a, long b, Format f) {
        return arith(Op.MUL, a, b, f);
    }

    long div(long a, long b, Format f) {
        return arith(Op.DIV, a, b, f);
    }

    long arith(Op op, long a, long b, Format f) {
        int earlier = flags;
        flags = 0;
        return withoutDenormalOnSpecialResult(earlier, arithmetic(op, a, b, f));
    }

    /**
     * Hardware reports DE only when a denormal operand takes part in a real computation: an operation that
     * ends as invalid or divide-by-zero (e.g. denormal / 0, sqrt of a negative denormal) reports only that.
     * The rule holds per lane, so {@link #flags} holds only this operation's flags while it runs and the
     * flags of earlier lanes ({@code earlier}) are merged back afterwards: an IE raised by another lane
     * must not decide whether this lane's DE counts.
     */
    private long withoutDenormalOnSpecialResult(int earlier, long result) {
        if ((flags & (IE | ZE)) != 0) {
            flags &= ~DE;
        }
        flags |= earlier;
        return result;
    }

    private long arithmetic(Op op, long a, long b, Format f) {
        if (f.isNaN(a) || f.isNaN(b)) {
            return propagateNaN(a, b, f);
        }
        a = operand(a, f);
        b = operand(b, f);
        double x = f.toDouble(a);
        double y = f.toDouble(b);
        if (op == Op.SUB) {
            y = -y;
        }
        double rd;
        switch (op) {
            case ADD, SUB -> {
                if (Double.isInfinite(x) || Double.isInfinite(y)) {
                    return Double.isInfinite(x) && Double.isInfinite(y) && (x != y) ? invalid(f) : f.fromDouble(x + y);
                }
                rd = x + y;
                if (rd == 0) {
                    // exact zero: -0 only if both addends are -0, or for x + (-x) when rounding down
                    boolean neg = (x == 0 && y == 0)
                            ? (isNegative(x) && isNegative(y)) || (isNegative(x) != isNegative(y) && rounding == RD)
                            : rounding == RD;
                    return f.zero(neg);
                }
            }
            case MUL -> {
                if (Double.isInfinite(x) || Double.isInfinite(y)) {
                    return (x == 0 || y == 0) ? invalid(f) : f.fromDouble(x * y);
                }
                if (x == 0 || y == 0) {
                    return f.fromDouble(x * y);
                }
                rd = x * y;
            }
            default -> {
                if (Double.isInfinite(x)) {
                    return Double.isInfinite(y) ? invalid(f) : f.fromDouble(x / y);
                }
                if (y == 0) {
                    if (x == 0) {
                        return invalid(f);
                    }
                    flags |= ZE;
                    return f.fromDouble(x / y);
                }
                if (x == 0 || Double.isInfinite(y)) {
                    return f.fromDouble(x / y);
                }
                rd = x / y;
            }
        }
        if (f == Format.DOUBLE && !(inFastRange(x) && inFastRange(y) && inFastRange(rd))
                && !(op != Op.MUL && op != Op.DIV && !Double.isInfinite(rd))) {
            return exactSlow(op, x, y, f);
        }
        if ((op == Op.ADD || op == Op.SUB) && Double.isInfinite(rd - x)) {
            return exactSlow(op, x, y, f); // near the top of the range the two-sum error term overflows
        }
        int err = switch (op) {
            case ADD, SUB -> {
                double bb = rd - x;
                yield (int) Math.signum((x - (rd - bb)) + (y - bb));
            }
            case MUL -> (int) Math.signum(Math.fma(x, y, -rd));
            default -> (int) (Math.signum(Math.fma(-rd, y, x)) * Math.signum(y));
        };
        return roundDouble(rd, err, f);
    }

    long sqrt(long a, Format f) {
        int earlier = flags;
        flags = 0;
        return withoutDenormalOnSpecialResult(earlier, squareRoot(a, f));
    }

    private long squareRoot(long a, Format f) {
        if (f.isNaN(a)) {
            return propagateNaN(a, a, f);
        }
        a = operand(a, f);
        double x = f.toDouble(a);
        if (x == 0 || x == Double.POSITIVE_INFINITY) {
            return a;
        }
        if (x < 0) {
            return invalid(f);
        }
        double rd = Math.sqrt(x);
        if (f == Format.DOUBLE && !inFastRange(x)) {
            Exact e = Exact.of(x);
            int k = 64 + 2;
            BigInteger m = e.mag;
            int exp = e.exp;
            if ((exp & 1) != 0) {
                m = m.shiftLeft(1);
                exp--;
            }
            m = m.shiftLeft(2 * k);
            exp -= 2 * k;
            BigInteger s = m.sqrt();
            return roundBig(false, s, exp / 2, !s.multiply(s).equals(m), f);
        }
        return roundDouble(rd, (int) Math.signum(Math.fma(-rd, rd, x)), f);
    }

    private static boolean isNegative(double d) {
        return Double.doubleToRawLongBits(d) < 0;
    }

    /** Error terms are exact when all magnitudes stay well inside the double exponent range. */
    private static boolean inFastRange(double d) {
        if (d == 0) {
            return true;
        }
        int e = Math.getExponent(d);
        return e >= -250 && e <= 250;
    }

    /** Exact sign/magnitude/exponent of a finite double: value = ±mag * 2^exp. */
    private record Exact(boolean negative, BigInteger mag, int exp) {
        static Exact of(double d) {
            long bits = Double.doubleToRawLongBits(d);
            return new Exact(bits < 0, BigInteger.valueOf(Format.DOUBLE.significand(bits)),
                    Format.DOUBLE.lsbExponent(bits));
        }

        BigInteger signed() {
            return negative ? mag.negate() : mag;
        }
    }

    private long exactSlow(Op op, double x, double y, Format f) {
        Exact a = Exact.of(x);
        Exact b = Exact.of(y);
        switch (op) {
            case ADD, SUB -> {
                int e = Math.min(a.exp, b.exp);
                BigInteger sum = a.signed().shiftLeft(a.exp - e).add(b.signed().shiftLeft(b.exp - e));
                return roundBig(sum.signum() < 0, sum.abs(), e, false, f);
            }
            case MUL -> {
                return roundBig(a.negative != b.negative, a.mag.multiply(b.mag), a.exp + b.exp, false, f);
            }
            default -> {
                int k = 128 + b.mag.bitLength();
                BigInteger[] qr = a.mag.shiftLeft(k).divideAndRemainder(b.mag);
                return roundBig(a.negative != b.negative, qr[0], a.exp - b.exp - k, qr[1].signum() != 0, f);
            }
        }
    }

    private long roundBig(boolean negative, BigInteger mag, int exp, boolean sticky, Format f) {
        int excess = mag.bitLength() - 62;
        if (excess > 0) {
            sticky |= mag.getLowestSetBit() < excess;
            mag = mag.shiftRight(excess);
            exp += excess;
        }
        return round(negative, mag.longValue(), exp, sticky, f);
    }

    /**
     * Rounds the exact value that lies on the {@code errSign} side of the double {@code rd} (0: it is
     * {@code rd}) to {@code f}. The value is re-expressed with two extra low bits so the error becomes a
     * sticky bit.
     */
    long roundDouble(double rd, int errSign, Format f) {
        long bits = Double.doubleToRawLongBits(rd);
        boolean neg = bits < 0;
        long m = Format.DOUBLE.significand(bits) << 2;
        int magnitudeErr = neg ? -errSign : errSign;
        if (magnitudeErr < 0) {
            m -= 1;
        }
        return round(neg, m, Format.DOUBLE.lsbExponent(bits) - 2, errSign != 0, f);
    }

    /**
     * Rounds {@code (mant + s) * 2^exp} with {@code 0 < s < 1} when {@code sticky}, else {@code s = 0}, to
     * the format, honouring the rounding mode, overflow, tininess (detected before rounding, as x86 does),
     * flush-to-zero, and setting OE/UE/PE. {@code mant} is unsigned and below 2^62 or is the exact value.
     */
    long round(boolean negative, long mant, int exp, boolean sticky, Format f) {
        int p = f.precision;
        long sign = negative ? f.signBit : 0;
        if (mant == 0 && !sticky) {
            return sign;
        }
        int n = 64 - Long.numberOfLeadingZeros(mant);
        int e = mant == 0 ? exp - 1 : exp + n - 1; // value in [2^e, 2^(e+1))
        int emin = 1 - f.bias;
        boolean tiny = e < emin;
        if (tiny && flushToZero && underflowMasked) {
            flags |= UE | PE;
            return sign;
        }
        int qmin = emin - (p - 1);
        int q = Math.max(e, emin) - (p - 1); // exponent of the result's last bit
        long integer = shiftAndRound(mant, q - exp, sticky, rounding, negative);
        boolean inexact = lastInexact;
        long bits = e > f.bias ? f.inf : ((long) (q - qmin) << (p - 1)) + integer;
        if (f.exponentField(bits) == f.expField) {
            flags |= OE | PE;
            boolean toInfinity = rounding == RN || (rounding == RU && !negative) || (rounding == RD && negative);
            return sign | (toInfinity ? f.inf : f.maxFinite);
        }
        if (tiny && (inexact || !underflowMasked)) {
            flags |= UE;
        }
        if (inexact) {
            flags |= PE;
        }
        return sign | bits;
    }

    /** Set by {@link #shiftAndRound}: whether discarded bits were non-zero. */
    private boolean lastInexact;

    /**
     * {@code (mant + s) >> shift} rounded to an integer in {@code mode} (s: 0 or a sticky fraction below
     * one unit of mant). A left shift ({@code shift <= 0}) must not overflow; the caller ensures that.
     */
    private long shiftAndRound(long mant, int shift, boolean sticky, int mode, boolean negative) {
        long integer;
        boolean half;
        boolean rest;
        if (shift <= 0) {
            integer = mant << -shift;
            half = false;
            rest = sticky;
        } else if (shift >= 64) {
            integer = 0;
            half = shift == 64 && mant < 0;
            rest = sticky || (shift == 64 ? (mant << 1) != 0 : mant != 0);
        } else {
            integer = mant >>> shift;
            half = ((mant >>> (shift - 1)) & 1) != 0;
            rest = sticky || (mant & ((1L << (shift - 1)) - 1)) != 0;
        }
        lastInexact = half || rest;
        boolean up = switch (mode) {
            case RN -> half && (rest || (integer & 1) != 0);
            case RU -> !negative && lastInexact;
            case RD -> negative && lastInexact;
            default -> false;
        };
        return up ? integer + 1 : integer;
    }

    // ---- comparisons ----

    /** Result of {@link #compare}. */
    static final int LESS = 0, EQUAL = 1, GREATER = 2, UNORDERED = 3;

    /** Compares; IE for SNaN, or for any NaN when {@code signaling} (COMISS, CMPLTPS, MINPS...). */
    int compare(long a, long b, Format f, boolean signaling) {
        if (f.isNaN(a) || f.isNaN(b)) {
            if (signaling || f.isSNaN(a) || f.isSNaN(b)) {
                flags |= IE;
            }
            return UNORDERED;
        }
        double x = f.toDouble(operand(a, f));
        double y = f.toDouble(operand(b, f));
        return x < y ? LESS : x > y ? GREATER : EQUAL;
    }

    /** MINSS/MAXSS family: returns the second operand when either is NaN or both are zero. */
    long minMax(long a, long b, Format f, boolean max) {
        int c = compare(a, b, f, true);
        a = denormalsAreZero && f.isDenormal(a) ? a & f.signBit : a;
        b = denormalsAreZero && f.isDenormal(b) ? b & f.signBit : b;
        if (c == UNORDERED) {
            return b;
        }
        return (max ? c == GREATER : c == LESS) ? a : b;
    }

    // ---- conversions ----

    /** Converts between single and double (CVTSS2SD, CVTSD2SS...). */
    long convert(long bits, Format from, Format to) {
        if (from.isNaN(bits)) {
            if (from.isSNaN(bits)) {
                flags |= IE;
            }
            long payload = bits & from.fracMask;
            int diff = to.precision - from.precision;
            payload = diff >= 0 ? payload << diff : payload >>> -diff;
            return (from.negative(bits) ? to.signBit : 0) | to.inf | to.quietBit | payload;
        }
        bits = operand(bits, from);
        boolean neg = from.negative(bits);
        if (from.isZero(bits)) {
            return to.zero(neg);
        }
        if (from.isInf(bits)) {
            return (neg ? to.signBit : 0) | to.inf;
        }
        return round(neg, from.significand(bits), from.lsbExponent(bits), false, to);
    }

    /** Signed integer to floating point (CVTSI2SS, CVTDQ2PS...), rounded per mode. */
    long fromInteger(long value, Format f) {
        if (value == 0) {
            return 0;
        }
        boolean neg = value < 0;
        long mag = neg ? -value : value; // Long.MIN_VALUE stays 2^63 as an unsigned magnitude
        if (mag < 0) {
            return round(true, 1L << 62, 1, false, f);
        }
        return round(neg, mag, 0, false, f);
    }

    /**
     * Floating point to a 32- or 64-bit signed integer. NaN, infinity and out-of-range values raise IE and
     * give the "integer indefinite" (most negative value). {@code truncate} selects round-toward-zero (the
     * CVTT forms, FISTTP) instead of the environment's mode.
     */
    long toInteger(long bits, Format f, int sizeBits, boolean truncate) {
        if (f.isNaN(bits) || f.isInf(bits)) {
            flags |= IE;
            return integerIndefinite(sizeBits);
        }
        if (f.isZero(bits) || (denormalsAreZero && f.isDenormal(bits))) {
            return 0;
        }
        return roundToInteger(f.negative(bits), f.significand(bits), f.lsbExponent(bits), sizeBits, truncate);
    }

    static long integerIndefinite(int sizeBits) {
        return 1L << (sizeBits - 1);
    }

    /**
     * Rounds {@code ±m * 2^exp} ({@code m} unsigned, any 64-bit value) to a signed integer of
     * {@code sizeBits}, zero-extended into the result; out of range gives IE and the integer indefinite.
     */
    long roundToInteger(boolean neg, long m, int exp, int sizeBits, boolean truncate) {
        if (m == 0) {
            return 0;
        }
        if (exp >= 0 && exp + 64 - Long.numberOfLeadingZeros(m) > 64) {
            flags |= IE;
            return integerIndefinite(sizeBits);
        }
        long integer = shiftAndRound(m, -exp, false, truncate ? RZ : rounding, neg);
        boolean inexact = lastInexact;
        long limit = 1L << (sizeBits - 1); // unsigned magnitude of the most negative value
        int vsLimit = Long.compareUnsigned(integer, limit);
        if (neg ? vsLimit > 0 : vsLimit >= 0) {
            flags |= IE;
            return integerIndefinite(sizeBits);
        }
        if (inexact) {
            flags |= PE;
        }
        long result = neg ? -integer : integer;
        return sizeBits == 64 ? result : result & ((1L << sizeBits) - 1);
    }
}
