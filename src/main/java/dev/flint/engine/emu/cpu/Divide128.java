package dev.flint.engine.emu.cpu;

/**
 * 128-by-64-bit division for DIV and IDIV with a 64-bit operand, without allocating: the dividend is
 * split into 32-bit digits and divided by the normalised divisor two digits at a time (Knuth's
 * algorithm D for a two-digit divisor). Results land in {@link #quotient} and {@link #remainder}.
 */
final class Divide128 {
    long quotient, remainder;

    /** Unsigned (hi:lo) / divisor. Returns false (the #DE case) if the quotient needs more than 64 bits. */
    boolean unsigned(long hi, long lo, long divisor) {
        if (Long.compareUnsigned(hi, divisor) >= 0) return false; // also divisor == 0
        if (hi == 0) {
            quotient = Long.divideUnsigned(lo, divisor);
            remainder = Long.remainderUnsigned(lo, divisor);
            return true;
        }
        int shift = Long.numberOfLeadingZeros(divisor);
        long v = divisor << shift;
        long vHigh = v >>> 32, vLow = v & 0xFFFF_FFFFL;
        long top = shift == 0 ? hi : (hi << shift) | (lo >>> (64 - shift));
        long rest = lo << shift;
        long q1 = digit(top, rest >>> 32, vHigh, vLow);
        long middle = (top << 32) + (rest >>> 32) - q1 * v;
        long q0 = digit(middle, rest & 0xFFFF_FFFFL, vHigh, vLow);
        remainder = ((middle << 32) + (rest & 0xFFFF_FFFFL) - q0 * v) >>> shift;
        quotient = (q1 << 32) | q0;
        return true;
    }

    /** One 32-bit quotient digit of (upper:next) / (vHigh:vLow), estimated and corrected (at most twice). */
    private static long digit(long upper, long next, long vHigh, long vLow) {
        long q = Long.divideUnsigned(upper, vHigh);
        long rhat = upper - q * vHigh;
        while ((q >>> 32) != 0 || Long.compareUnsigned(q * vLow, (rhat << 32) + next) > 0) {
            q--;
            rhat += vHigh;
            if ((rhat >>> 32) != 0) break;
        }
        return q;
    }

    /** Signed (hi:lo) / divisor, truncating toward zero; false (the #DE case) if the quotient overflows. */
    boolean signed(long hi, long lo, long divisor) {
        boolean negativeDividend = hi < 0, negativeDivisor = divisor < 0;
        if (negativeDividend) {
            lo = -lo;
            hi = ~hi + (lo == 0 ? 1 : 0);
        }
        if (!unsigned(hi, lo, negativeDivisor ? -divisor : divisor)) return false;
        if (negativeDividend != negativeDivisor) {
            if (Long.compareUnsigned(quotient, Long.MIN_VALUE) > 0) return false;
            quotient = -quotient;
        } else if (quotient < 0) {
            return false;
        }
        if (negativeDividend) remainder = -remainder;
        return true;
    }
}
