package dev.flint.engine.emu.fpu;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class FxsaveAreaTest extends SseTestSupport {
    private void fillState() {
        s.controlWord = 0x027F;
        s.statusWord = 0x0021;
        s.top = 6;
        s.tagValid = 0xC0; // R6, R7 in use: ST0 = R6, ST1 = R7
        s.significand[6] = 0x8000000000000000L;
        s.signExponent[6] = 0x3FFF; // 1.0
        s.significand[7] = 0xC000000000000000L;
        s.signExponent[7] = 0xC000; // -3.0
        s.lastOpcode = 0x1C1;
        s.lastIp = 0xFFFF800012345678L;
        s.lastDp = 0x7FFF0000ABCDL;
        s.mxcsr = 0x9FC0;
        for (int i = 0; i < 16; i++) {
            s.setXmm(i, 0x1000 + i, 0x2000 + i);
        }
    }

    @Test
    void fxsave64LayoutOffsets() {
        fillState();
        assertEquals(true, SseUnit.execute(s, h, 1, 0xAE, 0, true, 0, -1, 0x1000, 0));
        assertEquals(0x027F, h.readMem(0x1000, 2));
        assertEquals(0x3021, h.readMem(0x1002, 2)); // TOP = 6 in bits 13:11
        assertEquals(0xC0, h.readMem(0x1004, 1));
        assertEquals(0x1C1, h.readMem(0x1006, 2));
        assertEquals(0xFFFF800012345678L, h.readMem(0x1008, 8));
        assertEquals(0x7FFF0000ABCDL, h.readMem(0x1010, 8));
        assertEquals(0x9FC0, h.readMem(0x1018, 4));
        assertEquals(0xFFFF, h.readMem(0x101C, 4));
        assertEquals(0x8000000000000000L, h.readMem(0x1020, 8)); // ST0 (= R6)
        assertEquals(0x3FFF, h.readMem(0x1028, 2));
        assertEquals(0xC000000000000000L, h.readMem(0x1030, 8)); // ST1 (= R7)
        assertEquals(0xC000, h.readMem(0x1038, 2));
        assertEquals(0x1000, h.readMem(0x10A0, 8)); // XMM0
        assertEquals(0x200F, h.readMem(0x10A0 + 15 * 16 + 8, 8)); // XMM15 high
    }

    @Test
    void fxsave32FormTruncatesPointersAndLegacyModeSavesEightXmm() {
        fillState();
        h.longMode = false;
        h.writeMem(0x1000 + 160 + 8 * 16, 8, 0x5555);
        SseUnit.fxsave(s, h, 0x1000, false);
        assertEquals(0x12345678L, h.readMem(0x1008, 8));
        assertEquals(0x5555, h.readMem(0x1000 + 160 + 8 * 16, 8)); // XMM8 slot untouched
    }

    @Test
    void fxrstorRoundTripsAndChecksMxcsrAndAlignment() {
        fillState();
        SseUnit.fxsave(s, h, 0x1000, true);
        FpuState copy = new FpuState();
        SseUnit.fxrstor(copy, h, 0x1000, true);
        assertEquals(s.statusWord(), copy.statusWord());
        assertEquals(s.controlWord, copy.controlWord);
        assertEquals(s.tagValid, copy.tagValid);
        assertEquals(s.mxcsr, copy.mxcsr);
        assertArrayEquals(s.significand, copy.significand);
        assertArrayEquals(s.signExponent, copy.signExponent);
        assertArrayEquals(s.xmm, copy.xmm);
        assertEquals(s.lastIp, copy.lastIp);
        h.writeMem(0x1018, 4, 0x10000 | 0x1F80);
        FpuState other = new FpuState();
        assertFault(13, () -> SseUnit.fxrstor(other, h, 0x1000, true));
        assertEquals(0x1F80, other.mxcsr);
        assertFault(13, () -> SseUnit.fxsave(s, h, 0x1008, true));
        h.cr0 |= 8;
        assertFault(7, () -> SseUnit.fxsave(s, h, 0x1000, true));
    }

    @Test
    void fnstenvLayoutAndFullTagWord() {
        fillState();
        s.significand[7] = 0; // R7 holds zero -> tag 01
        s.signExponent[7] = 0;
        FxsaveArea.storeEnvironment(s, h, 0x2000);
        assertEquals(0x027F, h.readMem(0x2000, 2));
        assertEquals(0x3021, h.readMem(0x2004, 2));
        assertEquals(0x4FFF, h.readMem(0x2008, 2)); // R7=01 zero, R6=00 valid, others 11 empty
        assertEquals(0x12345678L, h.readMem(0x200C, 4));
        assertEquals(0x1C1, h.readMem(0x2012, 2));
        assertEquals(0x3F, s.controlWord & 0x3F); // FNSTENV masks all exceptions
    }
}
