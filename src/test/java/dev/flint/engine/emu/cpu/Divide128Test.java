package dev.flint.engine.emu.cpu;

import org.junit.jupiter.api.Test;

import java.math.BigInteger;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** 128/64 division against BigInteger, including the overflow (#DE) boundaries of DIV and IDIV. */
class Divide128Test {
    private static final BigInteger TWO_64 = BigInteger.ONE.shiftLeft(64);

    private static BigInteger unsigned(long v) { return new BigInteger(Long.toUnsignedString(v)); }

    private static BigInteger dividend(long hi, long lo, boolean signed) {
        BigInteger n = unsigned(hi).shiftLeft(64).or(unsigned(lo));
        return signed && hi < 0 ? n.subtract(BigInteger.ONE.shiftLeft(128)) : n;
    }

    private static void check(long hi, long lo, long divisor) {
        Divide128 d = new Divide128();
        // Unsigned
        BigInteger[] qr = dividend(hi, lo, false).divideAndRemainder(unsigned(divisor));
        boolean fits = qr[0].compareTo(TWO_64) < 0;
        String what = String.format("%016x:%016x / %016x", hi, lo, divisor);
        assertEquals(fits, d.unsigned(hi, lo, divisor), "DIV fits " + what);
        if (fits) {
            assertEquals(qr[0].longValue(), d.quotient, "DIV quotient " + what);
            assertEquals(qr[1].longValue(), d.remainder, "DIV remainder " + what);
        }
        // Signed (BigInteger truncates toward zero, like IDIV)
        qr = dividend(hi, lo, true).divideAndRemainder(BigInteger.valueOf(divisor));
        fits = qr[0].bitLength() <= 63;
        assertEquals(fits, d.signed(hi, lo, divisor), "IDIV fits " + what);
        if (fits) {
            assertEquals(qr[0].longValue(), d.quotient, "IDIV quotient " + what);
            assertEquals(qr[1].longValue(), d.remainder, "IDIV remainder " + what);
        }
    }

    @Test
    void matchesBigIntegerOnRandomAndEdgeOperands() {
        long[] edges = {1, 2, 3, 0x7FFF_FFFFL, 0x8000_0000L, 0xFFFF_FFFFL, 0x1_0000_0000L, Long.MAX_VALUE,
                Long.MIN_VALUE, -1, -2, -3, 0x8000_0000_0000_0001L, 0x0123_4567_89AB_CDEFL};
        for (long hi : new long[] {0, 1, -1, Long.MAX_VALUE, Long.MIN_VALUE, 0x7FFF_FFFF_FFFF_FFFEL, -2}) {
            for (long lo : edges) {
                for (long divisor : edges) check(hi, lo, divisor);
            }
        }
        SplittableRandom random = new SplittableRandom(128);
        for (int i = 0; i < 200_000; i++) {
            long divisor = random.nextLong() >>> random.nextInt(64);
            if (divisor == 0) divisor = 1;
            long hi = random.nextBoolean() ? random.nextLong() >>> random.nextInt(64) : -(random.nextLong() >>> random.nextInt(64));
            check(hi, random.nextLong(), random.nextBoolean() ? divisor : -divisor);
        }
    }
}
