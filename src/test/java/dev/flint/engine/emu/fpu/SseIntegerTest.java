package dev.flint.engine.emu.fpu;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class SseIntegerTest extends SseTestSupport {
    @Test
    void pmaddwdSumsAdjacentProductsAndWrapsTheExtremeCase() {
        xmm(0, words(1, 2, 3, 4), words(-1, -2, 0x8000, 0x8000));
        xmm(1, words(5, 6, 7, 8), words(3, 4, 0x8000, 0x8000));
        rr(0x66, 0xF5, 0, 1);
        assertXmm(0, 17L | (53L << 32), 0xFFFFFFF5L | (0x80000000L << 32));
    }

    @Test
    void packsswbSaturatesSigned() {
        xmm(0, words(0x7FFF, 0x8000, 128, -128), words(1, -1, 127, -129));
        xmm(1, words(0, 0, 0, 0), words(0, 0, 0, 0x100));
        rr(0x66, 0x63, 0, 1);
        assertXmm(0, 0x807FFF01_807F807FL, 0x7F00000000000000L);
    }

    @Test
    void packuswbSaturatesUnsigned() {
        s.setMmx(0, words(-1, 256, 255, 1));
        s.setMmx(1, words(0, 0x7FFF, 0x8000, 2));
        rr(0, 0x67, 0, 1);
        assertEquals(0x0200FF00_01FFFF00L, s.mmx(0));
    }

    @Test
    void packssdwSaturatesDwordsToWords() {
        xmm(0, 0x00010000L | (0xFFFF0000L << 32), 5L | (0xFFFFFFFBL << 32));
        xmm(1, 0, 0);
        rr(0x66, 0x6B, 0, 1);
        assertXmm(0, words(0x7FFF, 0x8000, 5, -5), 0);
    }

    @Test
    void saturatingAddAndSubtract() {
        s.setMmx(0, 0x7F80FF00_01020304L);
        s.setMmx(1, 0x01FF0101_FFFEFDFCL);
        long a = s.mmx(0);
        rr(0, 0xEC, 0, 1); // PADDSB
        assertEquals(0x7F800001_00000000L, s.mmx(0));
        s.setMmx(0, a);
        rr(0, 0xDC, 0, 1); // PADDUSB
        assertEquals(0x80FFFF01_FFFFFFFFL, s.mmx(0));
        s.setMmx(0, a);
        rr(0, 0xD8, 0, 1); // PSUBUSB
        assertEquals(0x7E00FE00_00000000L, s.mmx(0));
    }

    @Test
    void multipliesHighLowAndUnsignedDoubleword() {
        xmm(0, words(-1, 0x7FFF, 0xFFFF, 3), 0);
        xmm(1, words(-1, 2, 0xFFFF, -4), 0);
        long[] saved = {s.xmmLow(0), s.xmmHigh(0)};
        rr(0x66, 0xD5, 0, 1); // PMULLW
        assertXmm(0, words(1, 0xFFFE, 1, -12), 0);
        xmm(0, saved[0], saved[1]);
        rr(0x66, 0xE5, 0, 1); // PMULHW
        assertXmm(0, words(0, 0, 0, -1), 0);
        xmm(0, saved[0], saved[1]);
        rr(0x66, 0xE4, 0, 1); // PMULHUW
        assertXmm(0, words(0xFFFE, 0, 0xFFFE, 2), 0); // 0x7FFF*2 = 0xFFFE has a zero high word
        xmm(2, 0xFFFFFFFFL, 0x123_00000002L);
        xmm(3, 0xFFFFFFFFL, 0x456_00000003L);
        rr(0x66, 0xF4, 2, 3); // PMULUDQ
        assertXmm(2, 0xFFFFFFFE00000001L, 6);
    }

    @Test
    void psadbwAndPavg() {
        xmm(0, 0x0706050403020100L, 0xFFL);
        xmm(1, 0x0001020304050607L, 0);
        long[] saved = {s.xmmLow(0), s.xmmHigh(0)};
        rr(0x66, 0xF6, 0, 1);
        assertXmm(0, 32, 255);
        xmm(0, saved[0], saved[1]);
        rr(0x66, 0xE0, 0, 1); // PAVGB rounds up
        assertXmm(0, 0x0404040404040404L, 0x80L);
    }

    @Test
    void compareAndMoveMaskFindAZeroByte() {
        xmm(0, 0x6F6C6C6568L, 0); // "hello" followed by zeros
        xmm(1, 0, 0);
        rr(0x66, 0x74, 1, 0); // PCMPEQB xmm1, xmm0
        rr(0x66, 0xD7, 2, 1); // PMOVMSKB eax.. (reg 2)
        assertEquals(0xFFE0L, h.gpr[2]);
    }

    @Test
    void signedCompareGreater() {
        xmm(0, words(1, -1, 5, 0x8000), 0);
        xmm(1, words(0, 0, 5, 0x7FFF), 0);
        rr(0x66, 0x65, 0, 1);
        assertXmm(0, words(-1, 0, 0, 0), 0);
    }

    @Test
    void minMaxUnsignedBytesAndSignedWords() {
        xmm(0, 0x80017F00L, words(-5, 3, 0, 0));
        xmm(1, 0x7F028001L, words(2, -7, 0, 0));
        long[] saved = {s.xmmLow(0), s.xmmHigh(0)};
        rr(0x66, 0xDA, 0, 1); // PMINUB
        assertEquals(0x7F017F00L, s.xmmLow(0));
        xmm(0, saved[0], saved[1]);
        rr(0x66, 0xEE, 0, 1); // PMAXSW
        assertEquals(words(2, 3, 0, 0), s.xmmHigh(0));
    }

    @Test
    void shiftsByRegisterAndImmediate() {
        xmm(0, words(0x8000, 1, 0x4000, 0xFFFF), 0);
        long lo = s.xmmLow(0);
        xmm(1, 20, 0);
        rr(0x66, 0xE1, 0, 1); // PSRAW by 20: sign fill
        assertXmm(0, words(-1, 0, 0, -1), 0);
        xmm(0, lo, 0);
        rri(0x66, 0x71, 6, 0, 1); // PSLLW xmm0, 1
        assertXmm(0, words(0, 2, 0x8000, 0xFFFE), 0);
        xmm(2, 0x0123456789ABCDEFL, 0xFEDCBA9876543210L);
        xmm(3, 64, 0);
        rr(0x66, 0xF3, 2, 3); // PSLLQ by 64 clears
        assertXmm(2, 0, 0);
        xmm(2, 0x0123456789ABCDEFL, 0xFEDCBA9876543210L);
        rri(0x66, 0x73, 3, 2, 3); // PSRLDQ by 3 bytes
        assertXmm(2, 0x5432100123456789L, 0x000000FEDCBA9876L);
        rri(0x66, 0x73, 7, 2, 16); // PSLLDQ by 16 clears
        assertXmm(2, 0, 0);
        s.setMmx(4, 0x8000000000000001L);
        rri(0, 0x73, 2, 4, 63); // PSRLQ mm4, 63
        assertEquals(1L, s.mmx(4));
    }

    @Test
    void unpacks() {
        xmm(0, 0x0706050403020100L, 0x0F0E0D0C0B0A0908L);
        xmm(1, 0x1716151413121110L, 0x1F1E1D1C1B1A1918L);
        long[] saved = {s.xmmLow(0), s.xmmHigh(0)};
        rr(0x66, 0x60, 0, 1); // PUNPCKLBW
        assertXmm(0, 0x1303120211011000L, 0x1707160615051404L);
        xmm(0, saved[0], saved[1]);
        rr(0x66, 0x6D, 0, 1); // PUNPCKHQDQ
        assertXmm(0, 0x0F0E0D0C0B0A0908L, 0x1F1E1D1C1B1A1918L);
        xmm(0, saved[0], saved[1]);
        rr(0, 0x15, 0, 1); // UNPCKHPS
        assertXmm(0, 0x1B1A19180B0A0908L, 0x1F1E1D1C0F0E0D0CL);
    }

    @Test
    void shuffles() {
        xmm(1, 0x0000000100000000L, 0x0000000300000002L);
        rri(0x66, 0x70, 0, 1, 0x1B); // PSHUFD reverse
        assertXmm(0, 0x0000000200000003L, 0x0000000000000001L);
        xmm(2, words(0, 1, 2, 3), words(4, 5, 6, 7));
        rri(0xF3, 0x70, 3, 2, 0x1B); // PSHUFHW
        assertXmm(3, words(0, 1, 2, 3), words(7, 6, 5, 4));
        rri(0xF2, 0x70, 3, 2, 0x00); // PSHUFLW broadcast word 0
        assertXmm(3, words(0, 0, 0, 0), words(4, 5, 6, 7));
        xmm(4, pack(0f, 1f), pack(2f, 3f));
        xmm(5, pack(4f, 5f), pack(6f, 7f));
        rri(0, 0xC6, 4, 5, 0b00_01_10_11); // SHUFPS
        assertXmm(4, pack(3f, 2f), pack(5f, 4f));
        xmm(6, d(1), d(2));
        xmm(7, d(3), d(4));
        rri(0x66, 0xC6, 6, 7, 0b01); // SHUFPD
        assertXmm(6, d(2), d(3));
    }

    @Test
    void insertAndExtractWord() {
        xmm(0, 0, 0);
        h.gpr[1] = 0xABCD1234;
        rri(0x66, 0xC4, 0, 1, 5);
        assertXmm(0, 0, 0x12340000L);
        rri(0x66, 0xC5, 3, 0, 5);
        assertEquals(0x1234L, h.gpr[3]);
    }

    @Test
    void mmxInstructionsTakeOverTheX87StackAndEmmsReleasesIt() {
        s.top = 5;
        s.setMmx(0, 0x0101010101010101L);
        s.setMmx(1, 0xFF00FF00FF00FF00L);
        rr(0, 0xFC, 0, 1); // PADDB mm0, mm1 (wraps)
        assertEquals(0x0001000100010001L, s.mmx(0));
        assertEquals(0, s.top);
        assertEquals(0xFF, s.tagValid);
        assertEquals(0xFFFF, s.signExponent[0]);
        assertEquals(true, SseUnit.execute(s, h, 1, 0x77, 0, false, 0, -1, 0, 0));
        assertEquals(0, s.tagValid);
    }

    @Test
    void punpcklqdqHasNoMmxForm() {
        assertEquals(false, SseUnit.execute(s, h, 1, 0x6C, 0, false, 0, 1, 0, 0));
    }

    @Test
    void ssse3MmxFormsUseEightByteLanes() {
        s.setMmx(0, 0x0706050403020100L);
        s.setMmx(1, 0x80_0F_00_01_02_03_04_05L); // index 0x0F wraps to 7 on MMX, 0x80 zeroes
        assertEquals(true, SseUnit.execute(s, h, 2, 0x00, 0, false, 0, 1, 0, 0)); // PSHUFB mm0, mm1
        assertEquals(0x00_07_00_01_02_03_04_05L, s.mmx(0));
        s.setMmx(2, 0x1716151413121110L);
        s.setMmx(3, 0x0706050403020100L);
        assertEquals(true, SseUnit.execute(s, h, 3, 0x0F, 0, false, 2, 3, 0, 3)); // PALIGNR mm2, mm3, 3
        assertEquals(0x1211100706050403L, s.mmx(2));
        s.setMmx(4, 0xFF80_0001_7FFF_8000L);
        assertEquals(true, SseUnit.execute(s, h, 2, 0x1D, 0, false, 5, 4, 0, 0)); // PABSW mm5, mm4
        assertEquals(0x0080_0001_7FFF_8000L, s.mmx(5));
    }

    @Test
    void sse3LoadsAndDuplicates() {
        h.writeMem(0x101, 8, 0x1111);
        h.writeMem(0x109, 8, 0x2222);
        assertEquals(true, SseUnit.execute(s, h, 1, 0xF0, 0xF2, false, 0, -1, 0x101, 0)); // LDDQU unaligned
        assertXmm(0, 0x1111, 0x2222);
        assertEquals(true, SseUnit.execute(s, h, 1, 0x12, 0xF2, false, 1, -1, 0x109, 0)); // MOVDDUP m64
        assertXmm(1, 0x2222, 0x2222);
        assertFault(13, () -> SseUnit.execute(s, h, 1, 0x16, 0xF3, false, 1, -1, 0x101, 0)); // MOVSHDUP m128
    }
}
