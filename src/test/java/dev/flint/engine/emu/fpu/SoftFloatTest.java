package dev.flint.engine.emu.fpu;

import dev.flint.engine.emu.fpu.SoftFloat.Format;
import java.math.BigDecimal;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

import static dev.flint.engine.emu.fpu.SoftFloat.DE;
import static dev.flint.engine.emu.fpu.SoftFloat.IE;
import static dev.flint.engine.emu.fpu.SoftFloat.OE;
import static dev.flint.engine.emu.fpu.SoftFloat.PE;
import static dev.flint.engine.emu.fpu.SoftFloat.UE;
import static dev.flint.engine.emu.fpu.SoftFloat.ZE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SoftFloatTest {
    private static final Format S = Format.SINGLE;
    private static final Format D = Format.DOUBLE;

    private static SoftFloat env(int rc) {
        return new SoftFloat(rc, false, false, true);
    }

    private static long d(double v) {
        return Double.doubleToRawLongBits(v);
    }

    private static long f(float v) {
        return Float.floatToRawIntBits(v) & 0xFFFFFFFFL;
    }

    @Test
    void roundToNearestMatchesJavaForRandomDoublesAndFloats() {
        SplittableRandom rnd = new SplittableRandom(42);
        for (int i = 0; i < 10000; i++) {
            double x = Double.longBitsToDouble(rnd.nextLong());
            double y = Double.longBitsToDouble(rnd.nextLong());
            if (Double.isNaN(x) || Double.isNaN(y)) {
                continue;
            }
            SoftFloat e = env(SoftFloat.RN);
            assertSameNumber(x + y, e.add(d(x), d(y), D), "add " + x + " " + y);
            assertSameNumber(x * y, e.mul(d(x), d(y), D), "mul " + x + " " + y);
            assertSameNumber(x / y, e.div(d(x), d(y), D), "div " + x + " " + y);
            assertSameNumber(Math.sqrt(Math.abs(x)), e.sqrt(d(Math.abs(x)), D), "sqrt " + x);
            float a = Float.intBitsToFloat(rnd.nextInt());
            float b = Float.intBitsToFloat(rnd.nextInt());
            if (Float.isNaN(a) || Float.isNaN(b)) {
                continue;
            }
            assertSameNumber(a + b, Float.intBitsToFloat((int) e.add(f(a), f(b), S)), "fadd " + a + " " + b);
            assertSameNumber(a * b, Float.intBitsToFloat((int) e.mul(f(a), f(b), S)), "fmul " + a + " " + b);
            assertSameNumber(a / b, Float.intBitsToFloat((int) e.div(f(a), f(b), S)), "fdiv " + a + " " + b);
        }
    }

    private static void assertSameNumber(double expected, long bits, String what) {
        assertSameNumber(expected, Double.longBitsToDouble(bits), what);
    }

    private static void assertSameNumber(double expected, double actual, String what) {
        if (Double.isNaN(expected)) {
            assertTrue(Double.isNaN(actual), what);
        } else {
            assertEquals(Double.doubleToRawLongBits(expected), Double.doubleToRawLongBits(actual), what);
        }
    }

    /** Directed modes: the result must bracket the exact value from the correct side, one ulp apart. */
    @Test
    void directedRoundingBracketsTheExactResult() {
        SplittableRandom rnd = new SplittableRandom(7);
        for (int i = 0; i < 1500; i++) {
            double x = (rnd.nextDouble() - 0.5) * Math.scalb(1.0, rnd.nextInt(-1070, 1020));
            double y = (rnd.nextDouble() - 0.5) * Math.scalb(1.0, rnd.nextInt(-1070, 1020));
            BigDecimal bx = new BigDecimal(x);
            BigDecimal by = new BigDecimal(y);
            BigDecimal sum = bx.add(by);
            BigDecimal product = bx.multiply(by);
            for (int rc : new int[] {SoftFloat.RD, SoftFloat.RU, SoftFloat.RZ}) {
                checkBracket(rc, sum.signum(), r -> new BigDecimal(r).compareTo(sum),
                        Double.longBitsToDouble(env(rc).add(d(x), d(y), D)));
                checkBracket(rc, product.signum(), r -> new BigDecimal(r).compareTo(product),
                        Double.longBitsToDouble(env(rc).mul(d(x), d(y), D)));
                // r vs x/y  <=>  r*y vs x, flipped when y < 0
                checkBracket(rc, bx.signum() * by.signum(),
                        r -> new BigDecimal(r).multiply(by).compareTo(bx) * by.signum(),
                        Double.longBitsToDouble(env(rc).div(d(x), d(y), D)));
                double ax = Math.abs(x);
                BigDecimal bax = new BigDecimal(ax);
                checkBracket(rc, 1, r -> new BigDecimal(r).multiply(new BigDecimal(r)).compareTo(bax),
                        Double.longBitsToDouble(env(rc).sqrt(d(ax), D)));
            }
        }
    }

    /** Sums whose two-sum error term would overflow (operands near the top of the range, opposite signs). */
    @Test
    void directedRoundingOfSumsNearTheTopOfTheRange() {
        // recorded on the host: subsd with MXCSR.RC = toward zero
        assertEquals(0xFFEC0000176CB1D1L, env(SoftFloat.RZ).sub(0x7FBFFFFF449A716CL, 0x7FEFFFFFFFFFFFFFL, D));
        SplittableRandom rnd = new SplittableRandom(11);
        for (int i = 0; i < 1000; i++) {
            double x = Math.nextDown(Double.MAX_VALUE) * (0.5 + rnd.nextDouble() / 2);
            double y = -Double.MAX_VALUE * rnd.nextDouble();
            BigDecimal sum = new BigDecimal(x).add(new BigDecimal(y));
            for (int rc : new int[] {SoftFloat.RD, SoftFloat.RU, SoftFloat.RZ}) {
                checkBracket(rc, sum.signum(), r -> new BigDecimal(r).compareTo(sum),
                        Double.longBitsToDouble(env(rc).add(d(x), d(y), D)));
                checkBracket(rc, sum.signum(), r -> new BigDecimal(r).compareTo(sum),
                        Double.longBitsToDouble(env(rc).sub(d(x), d(-y), D)));
            }
        }
    }

    private static void checkBracket(int rc, int exactSign, java.util.function.DoubleToIntFunction versusExact,
                                     double r) {
        if (Double.isInfinite(r) || r == 0 || Math.abs(r) == Double.MAX_VALUE) {
            return; // overflow/underflow cases are covered by dedicated tests
        }
        boolean towardsNegative = rc == SoftFloat.RD || (rc == SoftFloat.RZ && exactSign > 0);
        if (towardsNegative) {
            assertTrue(versusExact.applyAsInt(r) <= 0, "rounded above the exact value: " + r);
            assertTrue(versusExact.applyAsInt(Math.nextUp(r)) > 0, "not the nearest below: " + r);
        } else {
            assertTrue(versusExact.applyAsInt(r) >= 0, "rounded below the exact value: " + r);
            assertTrue(versusExact.applyAsInt(Math.nextDown(r)) < 0, "not the nearest above: " + r);
        }
    }

    @Test
    void oneThirdInEveryRoundingMode() {
        long one = f(1f);
        long three = f(3f);
        assertEquals(0x3EAAAAABL, env(SoftFloat.RN).div(one, three, S));
        assertEquals(0x3EAAAAAAL, env(SoftFloat.RD).div(one, three, S));
        assertEquals(0x3EAAAAABL, env(SoftFloat.RU).div(one, three, S));
        assertEquals(0x3EAAAAAAL, env(SoftFloat.RZ).div(one, three, S));
        assertEquals(0xBEAAAAABL, env(SoftFloat.RD).div(one, f(-3f), S));
    }

    @Test
    void exactZeroSumIsNegativeOnlyWhenRoundingDown() {
        assertEquals(0L, env(SoftFloat.RN).add(d(1.5), d(-1.5), D));
        assertEquals(Long.MIN_VALUE, env(SoftFloat.RD).add(d(1.5), d(-1.5), D));
        assertEquals(Long.MIN_VALUE, env(SoftFloat.RN).add(d(-0.0), d(-0.0), D));
        assertEquals(0L, env(SoftFloat.RN).sub(d(-0.0), d(-0.0), D));
    }

    @Test
    void overflowDependsOnRoundingMode() {
        long max = d(Double.MAX_VALUE);
        SoftFloat rn = env(SoftFloat.RN);
        assertEquals(d(Double.POSITIVE_INFINITY), rn.mul(max, d(2), D));
        assertEquals(OE | PE, rn.flags);
        assertEquals(max, env(SoftFloat.RZ).mul(max, d(2), D));
        assertEquals(d(-Double.MAX_VALUE), env(SoftFloat.RU).mul(max, d(-2), D));
        assertEquals(d(Double.NEGATIVE_INFINITY), env(SoftFloat.RD).mul(max, d(-2), D));
    }

    @Test
    void underflowFlagsOnlyWhenTinyAndInexact() {
        SoftFloat exact = env(SoftFloat.RN);
        assertEquals(f(0x1p-130f), exact.mul(f(0x1p-100f), f(0x1p-30f), S));
        assertEquals(0, exact.flags);
        SoftFloat inexact = env(SoftFloat.RN);
        inexact.mul(f(0x1.000002p-100f), f(0x1p-30f), S);
        assertEquals(UE | PE, inexact.flags);
        SoftFloat ftz = new SoftFloat(SoftFloat.RN, true, false, true);
        assertEquals(0L, ftz.mul(f(0x1p-100f), f(0x1p-30f), S));
        assertEquals(UE | PE, ftz.flags);
    }

    @Test
    void denormalOperandsFlagDeUnlessDaz() {
        SoftFloat e = env(SoftFloat.RN);
        assertEquals(f(Float.MIN_VALUE), e.add(f(Float.MIN_VALUE), f(0f), S));
        assertEquals(DE, e.flags);
        SoftFloat daz = new SoftFloat(SoftFloat.RN, false, true, true);
        assertEquals(0L, daz.add(f(Float.MIN_VALUE), f(0f), S));
        assertEquals(0, daz.flags);
    }

    @Test
    void nanRulesAndInvalidOperations() {
        SoftFloat e = env(SoftFloat.RN);
        long snan = 0x7FF0000000000001L;
        long qnan = 0x7FF8000000000002L;
        assertEquals(0x7FF8000000000001L, e.add(snan, qnan, D)); // first operand wins, quieted
        assertEquals(IE, e.flags);
        SoftFloat e2 = env(SoftFloat.RN);
        assertEquals(qnan, e2.add(d(1), qnan, D));
        assertEquals(0, e2.flags);
        SoftFloat e3 = env(SoftFloat.RN);
        assertEquals(0xFFF8000000000000L, e3.mul(d(0), d(Double.POSITIVE_INFINITY), D));
        assertEquals(0xFFF8000000000000L, e3.sqrt(d(-1), D));
        assertEquals(0xFFC00000L, e3.sub(f(Float.POSITIVE_INFINITY), f(Float.POSITIVE_INFINITY), S));
        assertEquals(IE, e3.flags);
        SoftFloat e4 = env(SoftFloat.RN);
        assertEquals(d(Double.NEGATIVE_INFINITY), e4.div(d(-1), d(0), D));
        assertEquals(ZE, e4.flags);
    }

    @Test
    void integerConversionsRoundAndSaturateToIndefinite() {
        SoftFloat e = env(SoftFloat.RN);
        assertEquals(2L, e.toInteger(d(2.5), D, 32, false));
        assertEquals(0xFFFFFFFEL, e.toInteger(d(-2.5), D, 32, false));
        assertEquals(0xFFFFFFFDL, env(SoftFloat.RD).toInteger(d(-2.5), D, 32, false));
        assertEquals(2L, env(SoftFloat.RU).toInteger(d(2.5), D, 32, true));
        SoftFloat big = env(SoftFloat.RN);
        assertEquals(0x80000000L, big.toInteger(d(1e10), D, 32, true));
        assertEquals(IE, big.flags);
        assertEquals(10_000_000_000L, env(SoftFloat.RN).toInteger(d(1e10), D, 64, true));
        assertEquals(0x80000000L, env(SoftFloat.RN).toInteger(d(-2147483648.0), D, 32, true));
        assertEquals(0x80000000L, env(SoftFloat.RN).toInteger(f(Float.NaN), S, 32, true));
        assertEquals(Long.MIN_VALUE, env(SoftFloat.RN).toInteger(d(0x1p63), D, 64, true));
        assertEquals(Long.MIN_VALUE, env(SoftFloat.RN).toInteger(d(-0x1p63), D, 64, true));
        SoftFloat inexact = env(SoftFloat.RN);
        inexact.toInteger(d(0.25), D, 32, false);
        assertEquals(PE, inexact.flags);
    }

    @Test
    void integerToFloatRoundsPerMode() {
        assertEquals(d(0x1p63), env(SoftFloat.RN).fromInteger(Long.MAX_VALUE, D));
        assertEquals(0x43DFFFFFFFFFFFFFL, env(SoftFloat.RD).fromInteger(Long.MAX_VALUE, D));
        assertEquals(d(-0x1p63), env(SoftFloat.RN).fromInteger(Long.MIN_VALUE, D));
        assertEquals(f(16777216f), env(SoftFloat.RN).fromInteger(16777217, S));
        assertEquals(f(16777218f), env(SoftFloat.RU).fromInteger(16777217, S));
    }

    @Test
    void singleDoubleConversionKeepsNanPayloadAndRounds() {
        SoftFloat e = env(SoftFloat.RN);
        assertEquals(0x7FC00001L, e.convert(0x7FF8000020000000L, D, S));
        assertEquals(0x7FF8000020000000L, e.convert(0x7FC00001L, S, D));
        SoftFloat o = env(SoftFloat.RN);
        assertEquals(0x7F800000L, o.convert(d(1e300), D, S));
        assertEquals(OE | PE, o.flags);
        assertEquals(f(0.1f), env(SoftFloat.RN).convert(d(0.1), D, S));
    }

    @Test
    void minMaxReturnSecondOperandOnNanOrEqualZeros() {
        SoftFloat e = env(SoftFloat.RN);
        long nan = 0x7FF8000000000000L;
        assertEquals(d(1), e.minMax(nan, d(1), D, false));
        assertEquals(nan, e.minMax(d(1), nan, D, false));
        assertEquals(IE, e.flags);
        assertEquals(d(-0.0), env(SoftFloat.RN).minMax(d(0.0), d(-0.0), D, false));
        assertEquals(d(0.0), env(SoftFloat.RN).minMax(d(-0.0), d(0.0), D, true));
        assertEquals(d(3), env(SoftFloat.RN).minMax(d(3), d(2), D, true));
    }
}
