package dev.flint.engine.emu.fpu;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SseMoveAndGatingTest extends SseTestSupport {
    @Test
    void alignedMovesFaultOnMisalignmentUnalignedOnesDoNot() {
        h.writeMem(0x101, 8, 0x1111);
        h.writeMem(0x109, 8, 0x2222);
        assertFault(13, () -> rm(0, 0x28, 0, 0x101)); // MOVAPS
        assertFault(13, () -> rm(0x66, 0x6F, 0, 0x101)); // MOVDQA
        rm(0, 0x10, 0, 0x101); // MOVUPS
        assertXmm(0, 0x1111, 0x2222);
        rm(0xF3, 0x7F, 0, 0x301); // MOVDQU store
        assertEquals(0x2222, h.readMem(0x309, 8));
    }

    @Test
    void movssMergesFromRegisterAndZeroesFromMemory() {
        xmm(0, 0xAAAAAAAA_BBBBBBBBL, 0xCCCC);
        xmm(1, 0x11111111_22222222L, 0x3333);
        rr(0xF3, 0x10, 0, 1);
        assertXmm(0, 0xAAAAAAAA_22222222L, 0xCCCC);
        h.writeMem(0x20, 4, 0x44444444L);
        rm(0xF3, 0x10, 0, 0x20);
        assertXmm(0, 0x44444444L, 0);
        rm(0xF2, 0x11, 1, 0x30); // MOVSD store
        assertEquals(0x11111111_22222222L, h.readMem(0x30, 8));
    }

    @Test
    void halfMoves() {
        xmm(0, 1, 2);
        xmm(1, 3, 4);
        rr(0, 0x12, 0, 1); // MOVHLPS
        assertXmm(0, 4, 2);
        rr(0, 0x16, 0, 1); // MOVLHPS
        assertXmm(0, 4, 3);
        h.writeMem(0x40, 8, 9);
        rm(0x66, 0x16, 0, 0x40); // MOVHPD load
        assertXmm(0, 4, 9);
        rm(0, 0x13, 0, 0x48); // MOVLPS store
        assertEquals(4, h.readMem(0x48, 8));
        assertFalse(SseUnit.execute(s, h, 1, 0x13, 0, false, 0, 1, 0, 0)); // no register form
    }

    @Test
    void movdMovqBetweenGprAndVectorRegisters() {
        h.gpr[2] = 0x1122334455667788L;
        xmm(0, -1, -1);
        rr(0x66, 0x6E, 0, 2); // MOVD xmm0, edx
        assertXmm(0, 0x55667788L, 0);
        assertTrue(SseUnit.execute(s, h, 1, 0x6E, 0x66, true, 0, 2, 0, 0)); // MOVQ xmm0, rdx
        assertXmm(0, 0x1122334455667788L, 0);
        rr(0x66, 0x7E, 0, 5); // MOVD ebp, xmm0 zero-extends
        assertEquals(0x55667788L, h.gpr[5]);
        xmm(1, 7, 8);
        rr(0xF3, 0x7E, 0, 1); // MOVQ xmm0, xmm1
        assertXmm(0, 7, 0);
        rr(0x66, 0xD6, 1, 0); // MOVQ xmm0, xmm1 (store form)
        assertXmm(0, 7, 0);
        s.setMmx(3, 0xABCDL);
        rr(0xF3, 0xD6, 2, 3); // MOVQ2DQ
        assertXmm(2, 0xABCD, 0);
    }

    @Test
    void moveMasks() {
        xmm(0, 0x80000000_00000001L, 0x7FFFFFFF_80000000L);
        rr(0, 0x50, 1, 0);
        assertEquals(0b0110L, h.gpr[1]);
        rr(0x66, 0x50, 1, 0);
        assertEquals(0b01L, h.gpr[1]);
    }

    @Test
    void maskmovdquWritesSelectedBytesAtRdiAddress() {
        xmm(0, 0x8877665544332211L, 0x0000000000000099L);
        xmm(1, 0x80000000000000FFL, 0x80L);
        h.writeMem(0x500, 8, 0xEEEEEEEEEEEEEEEEL);
        assertTrue(SseUnit.execute(s, h, 1, 0xF7, 0x66, false, 0, 1, 0x500, 0));
        assertEquals(0x88EEEEEEEEEEEE11L, h.readMem(0x500, 8));
        assertEquals(0x99, h.readMem(0x508, 1));
    }

    @Test
    void nonTemporalStores() {
        h.gpr[4] = 0x1234567890L;
        assertTrue(SseUnit.execute(s, h, 1, 0xC3, 0, true, 4, -1, 0x60, 0)); // MOVNTI m64
        assertEquals(0x1234567890L, h.readMem(0x60, 8));
        xmm(2, 5, 6);
        assertFault(13, () -> rm(0x66, 0xE7, 2, 0x68)); // MOVNTDQ needs alignment
        rm(0, 0x2B, 2, 0x70);
        assertEquals(6, h.readMem(0x78, 8));
    }

    @Test
    void controlRegisterGating() {
        h.cr0 |= 8; // TS
        assertFault(7, () -> rr(0, 0x58, 0, 1));
        assertFault(7, () -> rr(0, 0xFC, 0, 1)); // MMX too
        h.cr0 &= ~8;
        h.cr4 &= ~0x200; // OSFXSR clear: SSE is #UD, MMX still works
        assertFault(6, () -> rr(0, 0x58, 0, 1));
        rr(0, 0xFC, 0, 1);
        h.cr0 |= 4; // EM: MMX is #UD
        assertFault(6, () -> rr(0, 0xFC, 0, 1));
    }

    @Test
    void pendingX87ExceptionBlocksMmx() {
        s.statusWord |= FpuState.FSW_ES;
        assertFault(16, () -> rr(0, 0xEF, 0, 1));
    }

    @Test
    void unknownEncodingsAreRejected() {
        assertFalse(SseUnit.execute(s, h, 2, 0x10, 0x66, false, 0, 1, 0, 0)); // PBLENDVB: SSE4.1 not implemented
        assertFalse(SseUnit.execute(s, h, 3, 0x08, 0x66, false, 0, 1, 0, 0)); // ROUNDPS: SSE4.1
        assertFalse(SseUnit.execute(s, h, 1, 0x7C, 0, false, 0, 1, 0, 0)); // HADDPS needs F2
        assertFalse(SseUnit.execute(s, h, 1, 0x5B, 0xF2, false, 0, 1, 0, 0));
        assertFalse(SseUnit.execute(s, h, 1, 0xAE, 0, false, 5, 1, 0, 0)); // LFENCE belongs to the core
        assertTrue(SseUnit.hasImm8(1, 0x70) && SseUnit.hasImm8(1, 0xC2) && !SseUnit.hasImm8(1, 0x58));
        assertTrue(SseUnit.handles(1, 0xEF) && !SseUnit.handles(1, 0xA2));
    }
}
