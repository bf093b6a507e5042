package dev.flint.engine.emu.fpu;

import java.math.BigInteger;

/**
 * Exact x87 arithmetic on 80-bit extended values: add, subtract, multiply, divide, square root and
 * compare, rounded to the control word's precision (24, 53 or 64 bits) and rounding mode with the
 * extended exponent range, raising the x87 exception flags and reporting whether the result was rounded
 * up (FSW.C1). Values are computed exactly with {@link BigInteger} and rounded once.
 */
final class ExtendedArithmetic {
    /** An 80-bit value: explicit-integer-bit significand and the sign/15-bit-exponent word. */
    record Ext80(long significand, int signExponent) {
        static final Ext80 INDEFINITE = new Ext80(Extended80.INDEFINITE_SIGNIFICAND, Extended80.INDEFINITE_SIGN_EXPONENT);
        static final Ext80 ZERO = new Ext80(0, 0);

        int exponent() {
            return signExponent & 0x7FFF;
        }

        boolean negative() {
            return (signExponent & 0x8000) != 0;
        }

        boolean isNaN() {
            return Extended80.isNaN(significand, signExponent);
        }

        boolean isSignaling() {
            return isNaN() && (significand & (1L << 62)) == 0;
        }

        boolean isInfinite() {
            return exponent() == 0x7FFF && significand == Long.MIN_VALUE;
        }

        boolean isZero() {
            return exponent() == 0 && significand == 0;
        }

        boolean isDenormal() {
            return exponent() == 0 && significand != 0;
        }

        boolean isUnsupported() {
            return Extended80.isUnsupported(significand, signExponent);
        }

        Ext80 withSign(boolean negative) {
            return new Ext80(significand, (signExponent & 0x7FFF) | (negative ? 0x8000 : 0));
        }

        BigInteger magnitude() {
            return BigInteger.valueOf(significand >>> 1).shiftLeft(1).or(BigInteger.valueOf(significand & 1));
        }

        /** value = ±magnitude * 2^lsbExponent for finite values. */
        int lsbExponent() {
            return Math.max(exponent(), 1) - Extended80.BIAS - 63;
        }
    }

    private static final int EMIN = 1 - Extended80.BIAS;
    private static final int EMAX = Extended80.BIAS;

    final int rounding;
    final int precision;
    final boolean underflowMasked;
    int flags;
    boolean roundedUp;

    ExtendedArithmetic(int rounding, int precision, boolean underflowMasked) {
        this.rounding = rounding;
        this.precision = precision;
        this.underflowMasked = underflowMasked;
    }

    /** FCW.PC: 00 = 24 bits, 10 = 53 bits, 11 (and reserved 01) = 64 bits. */
    static ExtendedArithmetic fromControlWord(int fcw) {
        int pc = (fcw >>> 8) & 3;
        return new ExtendedArithmetic((fcw >>> 10) & 3, pc == 0 ? 24 : pc == 2 ? 53 : 64, (fcw & SoftFloat.UE) != 0);
    }

    /** An invalid operation: the indefinite NaN and IE, which hides DE (the host never reports both). */
    private Ext80 invalid() {
        flags = (flags & ~SoftFloat.DE) | SoftFloat.IE;
        return Ext80.INDEFINITE;
    }

    private static Ext80 quiet(Ext80 v) {
        return new Ext80(v.significand | (1L << 62), v.signExponent);
    }

    /**
     * x87 NaN rules: QNaN beats SNaN, otherwise the larger significand (the positive one when they tie);
     * any SNaN raises IE. A NaN operand also cancels the DE that a denormal m32/m64 operand raised while
     * it was widened: the host reports no DE for NaN op denormal.
     */
    private Ext80 propagateNaN(Ext80 a, Ext80 b) {
        flags &= ~SoftFloat.DE;
        if (a.isSignaling() || b.isSignaling()) {
            flags |= SoftFloat.IE;
        }
        if (a.isNaN() && b.isNaN()) {
            if (a.isSignaling() != b.isSignaling()) {
                return quiet(a.isSignaling() ? b : a);
            }
            int c = Long.compareUnsigned(a.significand << 1, b.significand << 1);
            return quiet(c > 0 || (c == 0 && !a.negative()) ? a : b); // equal significands: the positive one
        }
        return quiet(a.isNaN() ? a : b);
    }

    /** Handles unsupported encodings, NaNs and denormal flags; returns a result or null to continue. */
    private Ext80 screen(Ext80 a, Ext80 b) {
        if (a.isUnsupported() || b.isUnsupported()) {
            return invalid();
        }
        if (a.isNaN() || b.isNaN()) {
            return propagateNaN(a, b);
        }
        if (a.isDenormal() || b.isDenormal()) {
            flags |= SoftFloat.DE;
        }
        return null;
    }

    private static Ext80 infinity(boolean negative) {
        return new Ext80(Long.MIN_VALUE, 0x7FFF | (negative ? 0x8000 : 0));
    }

    Ext80 add(Ext80 a, Ext80 b, boolean subtract) {
        Ext80 special = screen(a, b);
        if (special != null) {
            return special;
        }
        boolean bNeg = b.negative() != subtract;
        if (a.isInfinite() || b.isInfinite()) {
            if (a.isInfinite() && b.isInfinite() && a.negative() != bNeg) {
                return invalid();
            }
            return a.isInfinite() ? a : infinity(bNeg);
        }
        BigInteger x = signed(a, a.negative());
        BigInteger y = signed(b, bNeg);
        int e = Math.min(a.lsbExponent(), b.lsbExponent());
        BigInteger sum = x.shiftLeft(a.lsbExponent() - e).add(y.shiftLeft(b.lsbExponent() - e));
        if (sum.signum() == 0) {
            boolean neg = (a.isZero() && b.isZero() && a.negative() == bNeg) ? a.negative() : rounding == SoftFloat.RD;
            return Ext80.ZERO.withSign(neg);
        }
        return round(sum.signum() < 0, sum.abs(), e, false);
    }

    private static BigInteger signed(Ext80 v, boolean negative) {
        BigInteger m = v.magnitude();
        return negative ? m.negate() : m;
    }

    Ext80 mul(Ext80 a, Ext80 b) {
        Ext80 special = screen(a, b);
        if (special != null) {
            return special;
        }
        boolean neg = a.negative() != b.negative();
        if (a.isInfinite() || b.isInfinite()) {
            return a.isZero() || b.isZero() ? invalid() : infinity(neg);
        }
        if (a.isZero() || b.isZero()) {
            return Ext80.ZERO.withSign(neg);
        }
        return round(neg, a.magnitude().multiply(b.magnitude()), a.lsbExponent() + b.lsbExponent(), false);
    }

    Ext80 div(Ext80 a, Ext80 b) {
        Ext80 special = screen(a, b);
        if (special != null) {
            return special;
        }
        boolean neg = a.negative() != b.negative();
        if (a.isInfinite()) {
            return b.isInfinite() ? invalid() : infinity(neg);
        }
        if (b.isZero()) {
            if (a.isZero()) {
                return invalid();
            }
            flags = (flags & ~SoftFloat.DE) | SoftFloat.ZE;
            return infinity(neg);
        }
        if (a.isZero() || b.isInfinite()) {
            return Ext80.ZERO.withSign(neg);
        }
        BigInteger mb = b.magnitude();
        int k = 70 + mb.bitLength();
        BigInteger[] qr = a.magnitude().shiftLeft(k).divideAndRemainder(mb);
        return round(neg, qr[0], a.lsbExponent() - b.lsbExponent() - k, qr[1].signum() != 0);
    }

    Ext80 sqrt(Ext80 a) {
        Ext80 special = screen(a, a);
        if (special != null) {
            return special;
        }
        if (a.isZero()) {
            return a;
        }
        if (a.negative()) {
            return invalid();
        }
        if (a.isInfinite()) {
            return a;
        }
        BigInteger m = a.magnitude();
        int exp = a.lsbExponent();
        if ((exp & 1) != 0) {
            m = m.shiftLeft(1);
            exp--;
        }
        int k = 140;
        m = m.shiftLeft(2 * k);
        exp -= 2 * k;
        BigInteger s = m.sqrt();
        return round(false, s, exp / 2, !s.multiply(s).equals(m));
    }

    /** Low three bits of the last {@link #remainder} quotient (FPREM reports them in C0, C3, C1). */
    int quotientBits;
    /** Whether the last {@link #remainder} stopped after a partial reduction (FPREM reports it in C2). */
    boolean incomplete;

    /**
     * Exponent differences up to this are reduced in one FPREM/FPREM1; larger ones only partially, and the
     * guest loops while C2 is set.
     */
    private static final int MAX_COMPLETE_REDUCTION = 63;

    /**
     * FPREM ({@code ieee} false: truncated quotient) or FPREM1 (quotient rounded to nearest even). The
     * remainder is always exact. When the operands' exponents differ by 64 or more, hardware reduces only
     * partially: it subtracts the largest truncated multiple of {@code b * 2^k} with {@code k} the
     * exponent difference rounded down to a multiple of 32, minus 32 (measured on AMD Zen and matching
     * the SDM's "implementation-dependent N between 32 and 63" with N = 32 + difference mod 32), reports
     * no quotient bits and sets {@link #incomplete}. Both instructions truncate in that step.
     */
    Ext80 remainder(Ext80 a, Ext80 b, boolean ieee) {
        quotientBits = 0;
        incomplete = false;
        Ext80 special = screen(a, b);
        if (special != null) {
            return special;
        }
        if (a.isInfinite() || b.isZero()) {
            return invalid();
        }
        if (b.isInfinite() || a.isZero()) {
            return a;
        }
        int difference = leadingBitExponent(a) - leadingBitExponent(b);
        int scale = 0;
        if (difference > MAX_COMPLETE_REDUCTION) {
            incomplete = true;
            ieee = false;
            scale = (difference & ~31) - 32;
        }
        int divisorLsb = b.lsbExponent() + scale;
        int e = Math.min(a.lsbExponent(), divisorLsb);
        BigInteger y = b.magnitude().shiftLeft(divisorLsb - e);
        BigInteger[] qr = a.magnitude().shiftLeft(a.lsbExponent() - e).divideAndRemainder(y);
        BigInteger q = qr[0];
        BigInteger r = qr[1];
        if (ieee) {
            int c = r.shiftLeft(1).compareTo(y);
            if (c > 0 || (c == 0 && q.testBit(0))) {
                q = q.add(BigInteger.ONE);
                r = r.subtract(y);
            }
        }
        quotientBits = incomplete ? 0 : q.intValue() & 7;
        if (r.signum() == 0) {
            return Ext80.ZERO.withSign(a.negative());
        }
        return roundTo(64, a.negative() != (r.signum() < 0), r.abs(), e, false);
    }

    /** Exponent of the leading one bit of a finite non-zero value (denormals normalized). */
    private static int leadingBitExponent(Ext80 v) {
        return v.lsbExponent() + 63 - Long.numberOfLeadingZeros(v.significand);
    }

    /** FSCALE: a * 2^trunc(b), rounded once (only underflow can round). */
    Ext80 scale(Ext80 a, Ext80 b) {
        Ext80 special = screen(a, b);
        if (special != null) {
            return special;
        }
        if (b.isInfinite()) {
            if (b.negative() ? a.isInfinite() : a.isZero()) {
                return invalid();
            }
            if (a.isZero() || a.isInfinite()) {
                return a;
            }
            return b.negative() ? Ext80.ZERO.withSign(a.negative()) : infinity(a.negative());
        }
        if (a.isZero() || a.isInfinite()) {
            return a;
        }
        int unbiased = b.exponent() - Extended80.BIAS;
        long k = unbiased < 0 ? 0 : unbiased >= 20 ? 1 << 20 : b.significand >>> (63 - unbiased);
        k = b.negative() ? -k : k;
        return roundTo(64, a.negative(), a.magnitude(), (int) (a.lsbExponent() + k), false); // PC does not apply
    }

    /** FRNDINT: rounds to an integral value in the current rounding mode (precision control ignored). */
    Ext80 roundToIntegral(Ext80 a) {
        Ext80 special = screen(a, a);
        if (special != null) {
            return special;
        }
        if (a.isZero() || a.isInfinite() || a.exponent() - Extended80.BIAS >= 63) {
            return a;
        }
        SoftFloat integerRounding = new SoftFloat(rounding, false, false, true);
        long v = integerRounding.roundToInteger(a.negative(), a.significand, a.lsbExponent(), 64, false);
        flags |= integerRounding.flags & SoftFloat.PE;
        if ((integerRounding.flags & SoftFloat.IE) != 0) { // rounded up to exactly 2^63
            return new Ext80(Long.MIN_VALUE, (63 + Extended80.BIAS) | (a.negative() ? 0x8000 : 0));
        }
        int shift = -a.lsbExponent(); // > 0 here
        long truncated = shift >= 64 ? 0 : a.significand >>> shift;
        roundedUp = (integerRounding.flags & SoftFloat.PE) != 0 && Math.abs(v) != truncated;
        long[] sig = new long[1];
        int se = Extended80.fromInteger(v, sig);
        return v == 0 ? Ext80.ZERO.withSign(a.negative()) : new Ext80(sig[0], se);
    }

    /** Exact comparison; IE for unsupported operands, SNaNs, or any NaN when {@code signaling}. */
    int compare(Ext80 a, Ext80 b, boolean signaling) {
        if (a.isUnsupported() || b.isUnsupported()) {
            invalid();
            return SoftFloat.UNORDERED;
        }
        if (a.isNaN() || b.isNaN()) {
            flags &= ~SoftFloat.DE; // as in propagateNaN
            if (signaling || a.isSignaling() || b.isSignaling()) {
                flags |= SoftFloat.IE;
            }
            return SoftFloat.UNORDERED;
        }
        if (a.isDenormal() || b.isDenormal()) {
            flags |= SoftFloat.DE;
        }
        if (a.isZero() && b.isZero()) {
            return SoftFloat.EQUAL;
        }
        int c = Integer.compare(sortKeySign(a), sortKeySign(b));
        if (c == 0) {
            int mag = magnitudeCompare(a, b);
            c = a.negative() ? -mag : mag;
        }
        return c < 0 ? SoftFloat.LESS : c > 0 ? SoftFloat.GREATER : SoftFloat.EQUAL;
    }

    private static int sortKeySign(Ext80 v) {
        return v.isZero() ? 0 : v.negative() ? -1 : 1;
    }

    private static int magnitudeCompare(Ext80 a, Ext80 b) {
        int c = Integer.compare(Math.max(a.exponent(), 1), Math.max(b.exponent(), 1));
        return c != 0 ? c : Long.compareUnsigned(a.significand, b.significand);
    }

    /**
     * Rounds {@code (mag + s) * 2^exp} (0 < s < 1 when {@code sticky}) to the precision and mode, with the
     * extended exponent range; tininess is detected before rounding.
     */
    Ext80 round(boolean negative, BigInteger mag, int exp, boolean sticky) {
        return roundTo(precision, negative, mag, exp, sticky);
    }

    private Ext80 roundTo(int p, boolean negative, BigInteger mag, int exp, boolean sticky) {
        int sign = negative ? 0x8000 : 0;
        int e = exp + mag.bitLength() - 1;
        boolean tiny = e < EMIN;
        int q = Math.max(e, EMIN) - (p - 1);
        int shift = q - exp;
        BigInteger integer;
        boolean half;
        boolean rest;
        if (shift <= 0) {
            integer = mag.shiftLeft(-shift);
            half = false;
            rest = sticky;
        } else {
            integer = mag.shiftRight(shift);
            half = mag.testBit(shift - 1);
            int low = mag.getLowestSetBit();
            rest = sticky || (low >= 0 && low < shift - 1);
        }
        boolean inexact = half || rest;
        boolean up = switch (rounding) {
            case SoftFloat.RN -> half && (rest || integer.testBit(0));
            case SoftFloat.RU -> !negative && inexact;
            case SoftFloat.RD -> negative && inexact;
            default -> false;
        };
        if (up) {
            integer = integer.add(BigInteger.ONE);
            if (integer.bitLength() > p) {
                integer = integer.shiftRight(1);
                q++;
            }
        }
        roundedUp = up;
        int resultExp = q + p - 1; // exponent if normal
        if (e > EMAX || resultExp > EMAX) {
            flags |= SoftFloat.OE | SoftFloat.PE;
            boolean toInfinity = rounding == SoftFloat.RN || (rounding == SoftFloat.RU && !negative)
                    || (rounding == SoftFloat.RD && negative);
            roundedUp = toInfinity;
            long maxSig = -1L << (64 - p);
            return toInfinity ? infinity(negative) : new Ext80(maxSig, 0x7FFE | sign);
        }
        if (tiny && (inexact || !underflowMasked)) {
            flags |= SoftFloat.UE;
        }
        if (inexact) {
            flags |= SoftFloat.PE;
        }
        long sig = integer.longValue() << (64 - p);
        boolean normal = integer.bitLength() == p;
        return new Ext80(sig, (normal ? resultExp + Extended80.BIAS : 0) | sign);
    }
}
