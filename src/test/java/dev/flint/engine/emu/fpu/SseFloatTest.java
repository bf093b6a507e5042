package dev.flint.engine.emu.fpu;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SseFloatTest extends SseTestSupport {
    @Test
    void addpsAddsAllFourLanesAndAddssOnlyTheLowest() {
        xmm(1, pack(1f, 2f), pack(3f, 4f));
        xmm(2, pack(10f, 20f), pack(30f, 40f));
        rr(0, 0x58, 1, 2);
        assertXmm(1, pack(11f, 22f), pack(33f, 44f));
        xmm(3, pack(1f, 2f), pack(3f, 4f));
        rr(0xF3, 0x58, 3, 2);
        assertXmm(3, pack(11f, 2f), pack(3f, 4f));
    }

    @Test
    void scalarDoubleMemoryOperandNeedsNoAlignment() {
        h.writeMem(0x103, 8, d(0.5));
        xmm(0, d(2.0), 77);
        rm(0xF2, 0x59, 0, 0x103);
        assertXmm(0, d(1.0), 77);
    }

    @Test
    void packedMemoryOperandMustBeAligned() {
        assertFault(13, () -> rm(0x66, 0x58, 0, 0x108));
    }

    @Test
    void divssHonoursMxcsrRoundingControl() {
        xmm(0, f(1f), 0);
        xmm(1, f(3f), 0);
        s.mxcsr = 0x1F80 | (3 << 13); // round toward zero
        rr(0xF3, 0x5E, 0, 1);
        assertEquals(0x3EAAAAAAL, s.xmmLow(0));
        assertEquals(0x20, s.mxcsr & 0x3F); // PE
    }

    @Test
    void unmaskedDivideByZeroRaisesXmAndLeavesDestination() {
        xmm(0, d(1), 0);
        xmm(1, d(0), 0);
        s.mxcsr = 0x1F80 & ~0x200; // unmask ZE
        assertFault(19, () -> rr(0xF2, 0x5E, 0, 1));
        assertEquals(d(1), s.xmmLow(0));
        assertEquals(0x4, s.mxcsr & 0x3F);
        h.cr4 &= ~0x400; // without OSXMMEXCPT the same event is #UD
        assertFault(6, () -> rr(0xF2, 0x5E, 0, 1));
    }

    @Test
    void maskedDivideByZeroGivesInfinity() {
        xmm(0, d(-1), 0);
        xmm(1, d(0), 0);
        rr(0xF2, 0x5E, 0, 1);
        assertEquals(d(Double.NEGATIVE_INFINITY), s.xmmLow(0));
        assertEquals(0x4, s.mxcsr & 0x3F);
    }

    @Test
    void minAndMaxReturnSourceForNanOperands() {
        long nan = 0x7FF8000000000123L;
        xmm(0, nan, 0);
        xmm(1, d(1), 0);
        rr(0xF2, 0x5D, 0, 1); // MINSD xmm0=NaN, xmm1=1 -> 1
        assertEquals(d(1), s.xmmLow(0));
        xmm(0, d(1), 0);
        xmm(1, nan, 0);
        rr(0xF2, 0x5F, 0, 1); // MAXSD xmm0=1, xmm1=NaN -> NaN
        assertEquals(nan, s.xmmLow(0));
        assertEquals(1, s.mxcsr & 1); // IE even for QNaN
    }

    @Test
    void sqrtpdOfNegativeIsIndefinite() {
        xmm(1, d(-4), d(9));
        rr(0x66, 0x51, 0, 1);
        assertXmm(0, 0xFFF8000000000000L, d(3));
    }

    @Test
    void comisdSetsAllThreeFlagsWhenUnordered() {
        xmm(0, 0x7FF8000000000000L, 0);
        xmm(1, d(1), 0);
        rr(0x66, 0x2E, 0, 1); // UCOMISD: QNaN does not raise IE
        assertTrue(h.zf && h.pf && h.cf);
        assertEquals(0, s.mxcsr & 1);
        rr(0x66, 0x2F, 0, 1); // COMISD: it does
        assertEquals(1, s.mxcsr & 1);
    }

    @Test
    void comissOrderedResults() {
        xmm(0, f(1f), 0);
        xmm(1, f(2f), 0);
        rr(0, 0x2F, 0, 1);
        assertTrue(h.cf && !h.zf && !h.pf);
        rr(0, 0x2F, 1, 0);
        assertFalse(h.cf || h.zf || h.pf);
        rr(0, 0x2F, 0, 0);
        assertTrue(h.zf && !h.cf && !h.pf);
    }

    @Test
    void cmppsPredicates() {
        float nan = Float.NaN;
        xmm(0, pack(1f, 2f), pack(nan, 4f));
        xmm(1, pack(2f, 2f), pack(1f, 3f));
        xmm(2, s.xmmLow(0), s.xmmHigh(0));
        rri(0, 0xC2, 2, 1, 1); // LT
        assertXmm(2, 0x00000000FFFFFFFFL, 0);
        xmm(2, s.xmmLow(0), s.xmmHigh(0));
        rri(0, 0xC2, 2, 1, 4); // NEQ: unordered counts as not-equal
        assertXmm(2, 0xFFFFFFFFL, 0xFFFFFFFFFFFFFFFFL);
        xmm(2, s.xmmLow(0), s.xmmHigh(0));
        rri(0, 0xC2, 2, 1, 3); // UNORD
        assertXmm(2, 0, 0xFFFFFFFFL);
    }

    @Test
    void cvttsd2siOverflowGivesIntegerIndefinite() {
        xmm(1, d(3e9), 0);
        rr(0xF2, 0x2C, 0, 1);
        assertEquals(0x80000000L, h.gpr[0]);
        assertEquals(1, s.mxcsr & 1);
        assertTrue(SseUnit.execute(s, h, 1, 0x2C, 0xF2, true, 0, 1, 0, 0)); // REX.W: fits in 64 bits
        assertEquals(3_000_000_000L, h.gpr[0]);
    }

    @Test
    void cvtsd2siRoundsToNearestEven() {
        xmm(1, d(-2.5), 0);
        rr(0xF2, 0x2D, 0, 1);
        assertEquals(0xFFFFFFFEL, h.gpr[0]);
        xmm(1, d(3.5), 0);
        rr(0xF2, 0x2D, 0, 1);
        assertEquals(4L, h.gpr[0]);
    }

    @Test
    void cvtsi2sdFromGprAndMemory() {
        h.gpr[3] = 0xFFFFFFFFL; // 32-bit -1
        xmm(0, 0, 55);
        rr(0xF2, 0x2A, 0, 3);
        assertXmm(0, d(-1), 55);
        h.writeMem(0x200, 8, 1L << 53 | 1);
        assertTrue(SseUnit.execute(s, h, 1, 0x2A, 0xF2, true, 0, -1, 0x200, 0));
        assertEquals(d(0x1p53), s.xmmLow(0)); // ties to even
    }

    @Test
    void packedConversions() {
        xmm(1, pack(1.5f, -2.5f), pack(1e10f, 7f));
        rr(0x66, 0x5B, 0, 1); // CVTPS2DQ
        assertXmm(0, 2L | (0xFFFFFFFEL << 32), 0x80000000L | (7L << 32));
        rr(0xF3, 0x5B, 0, 1); // CVTTPS2DQ
        assertXmm(0, 1L | (0xFFFFFFFEL << 32), 0x80000000L | (7L << 32));
        xmm(2, 3L | (0xFFFFFFFFL << 32), 0);
        rr(0xF3, 0xE6, 3, 2); // CVTDQ2PD
        assertXmm(3, d(3), d(-1));
        rr(0x66, 0x5A, 4, 3); // CVTPD2PS, upper half zeroed
        assertXmm(4, pack(3f, -1f), 0);
        rr(0, 0x5A, 5, 4); // CVTPS2PD
        assertXmm(5, d(3), d(-1));
        rr(0xF2, 0xE6, 6, 5); // CVTPD2DQ
        assertXmm(6, 3L | (0xFFFFFFFFL << 32), 0);
        xmm(7, 0, 99);
        rr(0xF2, 0x5A, 7, 5); // CVTSD2SS keeps the upper lanes
        assertXmm(7, f(3f), 99);
    }

    @Test
    void cvtpi2psAndCvtps2piUseMmxRegisters() {
        s.setMmx(2, 5L | (0xFFFFFFFDL << 32));
        xmm(0, 0, 42);
        rr(0, 0x2A, 0, 2);
        assertXmm(0, pack(5f, -3f), 42);
        assertEquals(0xFF, s.tagValid);
        rr(0, 0x2C, 1, 0); // CVTTPS2PI mm1, xmm0
        assertEquals(5L | (0xFFFFFFFDL << 32), s.mmx(1));
    }

    @Test
    void logicOpsAreBitwise() {
        xmm(0, 0xFF00FF00FF00FF00L, 0x1234);
        xmm(1, 0x0FF00FF00FF00FF0L, 0xFFFF);
        rr(0, 0x55, 0, 1); // ANDNPS
        assertXmm(0, 0x00F000F000F000F0L, 0xEDCB);
        rr(0x66, 0x57, 0, 0); // XORPD self
        assertXmm(0, 0, 0);
    }

    @Test
    void ftzAndDazFollowMxcsr() {
        s.mxcsr = 0x1F80 | 0x8000 | 0x40;
        xmm(0, f(0x1p-100f), 0);
        xmm(1, f(0x1p-30f), 0);
        rr(0xF3, 0x59, 0, 1);
        assertEquals(0L, s.xmmLow(0));
        assertEquals(0x30, s.mxcsr & 0x3F); // UE | PE
        s.mxcsr = 0x1F80 | 0x40;
        xmm(0, f(Float.MIN_VALUE), 0);
        xmm(1, f(1f), 0);
        rr(0xF3, 0x59, 0, 1);
        assertEquals(0L, s.xmmLow(0));
        assertEquals(0, s.mxcsr & 0x3F);
    }

    @Test
    void rcpAndRsqrtAreWithinArchitecturalError() {
        xmm(1, pack(3f, 16f), pack(0f, -1f));
        rr(0, 0x53, 0, 1);
        assertEquals(1 / 3f, Float.intBitsToFloat((int) s.xmmLow(0)), 1.5 * 0x1p-12 / 3);
        assertEquals(Float.POSITIVE_INFINITY, Float.intBitsToFloat((int) s.xmmHigh(0)));
        rr(0, 0x52, 0, 1);
        assertEquals(0.25f, Float.intBitsToFloat((int) (s.xmmLow(0) >>> 32)), 1e-6);
        assertEquals(0xFFC00000L, s.xmmHigh(0) >>> 32);
    }

    @Test
    void ldmxcsrRejectsReservedBits() {
        h.writeMem(0x40, 4, 0x10000);
        assertFault(13, () -> rm(0, 0xAE, 2, 0x40));
        h.writeMem(0x40, 4, 0x7F80);
        rm(0, 0xAE, 2, 0x40);
        rm(0, 0xAE, 3, 0x44);
        assertEquals(0x7F80, h.readMem(0x44, 4));
    }
}
