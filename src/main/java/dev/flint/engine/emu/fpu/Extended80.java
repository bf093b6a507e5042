package dev.flint.engine.emu.fpu;

import dev.flint.engine.emu.fpu.SoftFloat.Format;

/**
 * Conversions between the x87 80-bit extended format (64-bit significand with explicit integer bit, 15-bit
 * exponent biased by 16383) and single/double bit patterns or integers. Every conversion rounds exactly,
 * in the mode and with the flags of the given {@link SoftFloat} environment.
 */
final class Extended80 {
    static final int BIAS = 16383;
    /** The x87 "real indefinite": negative QNaN with only the top fraction bit set. */
    static final long INDEFINITE_SIGNIFICAND = 0xC000000000000000L;
    static final int INDEFINITE_SIGN_EXPONENT = 0xFFFF;

    private Extended80() {
    }

    static boolean isNaN(long sig, int se) {
        return (se & 0x7FFF) == 0x7FFF && (sig << 1) != 0;
    }

    /** Unnormals, pseudo-NaNs/infinities and pseudo-denormals: "unsupported" operands on a 387+. */
    static boolean isUnsupported(long sig, int se) {
        int exp = se & 0x7FFF;
        return exp != 0 && sig >= 0;
    }

    /**
     * Rounds an extended value to single or double; SNaN and unsupported operands raise IE. A denormal
     * source raises no DE: FST/FSTP do not report it (measured on the host).
     */
    static long toFormat(long sig, int se, Format f, SoftFloat env) {
        boolean neg = (se & 0x8000) != 0;
        long sign = neg ? f.signBit : 0;
        int exp = se & 0x7FFF;
        if (isUnsupported(sig, se)) {
            return env.invalid(f);
        }
        if (exp == 0x7FFF) {
            long frac = sig & Long.MAX_VALUE;
            if (frac == 0) {
                return sign | f.inf;
            }
            if ((sig & (1L << 62)) == 0) {
                env.flags |= SoftFloat.IE;
            }
            return sign | f.inf | f.quietBit | (frac >>> (64 - f.precision));
        }
        if (sig == 0) {
            return sign;
        }
        if (exp == 0) {
            exp = 1;
        }
        return env.round(neg, sig, exp - BIAS - 63, false, f);
    }

    /** Exact widening of a single/double bit pattern; {@code out[0]} = significand, returns sign/exponent. */
    static int fromFormat(long bits, Format f, long[] out) {
        int sign = f.negative(bits) ? 0x8000 : 0;
        int e = f.exponentField(bits);
        long frac = bits & f.fracMask;
        if (e == f.expField) {
            out[0] = Long.MIN_VALUE | (frac << (64 - f.precision));
            return sign | 0x7FFF;
        }
        if (e == 0) {
            if (frac == 0) {
                out[0] = 0;
                return sign;
            }
            int lz = Long.numberOfLeadingZeros(frac);
            out[0] = frac << lz;
            // value = frac * 2^(1 - bias - (p-1)); after normalising, integer bit at 63
            return sign | (1 - f.bias - (f.precision - 1) + (63 - lz) + BIAS);
        }
        out[0] = Long.MIN_VALUE | (frac << (64 - f.precision));
        return sign | (e - f.bias + BIAS);
    }

    /** Exact conversion of a signed 64-bit integer. */
    static int fromInteger(long v, long[] out) {
        if (v == 0) {
            out[0] = 0;
            return 0;
        }
        int sign = v < 0 ? 0x8000 : 0;
        long mag = v < 0 ? -v : v; // MIN_VALUE stays 2^63 unsigned
        int lz = Long.numberOfLeadingZeros(mag);
        out[0] = mag << lz;
        return sign | (63 - lz + BIAS);
    }

    /**
     * Rounds to a signed integer of {@code sizeBits} (FIST/FISTP, or FISTTP with {@code truncate}); like
     * the host, a denormal source raises PE but no DE.
     */
    static long toInteger(long sig, int se, int sizeBits, boolean truncate, SoftFloat env) {
        int exp = se & 0x7FFF;
        if (exp == 0x7FFF || isUnsupported(sig, se)) {
            env.flags |= SoftFloat.IE;
            return SoftFloat.integerIndefinite(sizeBits);
        }
        if (exp == 0) {
            exp = 1;
        }
        return env.roundToInteger((se & 0x8000) != 0, sig, exp - BIAS - 63, sizeBits, truncate);
    }
}
