package dev.flint.engine.emu.fpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Shared fixture: a fresh FpuState and FakeHost, and shorthands for issuing 0F-map instructions. */
abstract class SseTestSupport {
    final FpuState s = new FpuState();
    final FakeHost h = new FakeHost();

    /** Register-register form. */
    void rr(int prefix, int opcode, int reg, int rm) {
        rri(prefix, opcode, reg, rm, 0);
    }

    void rri(int prefix, int opcode, int reg, int rm, int imm) {
        assertTrue(SseUnit.execute(s, h, 1, opcode, prefix, false, reg, rm, 0, imm),
                () -> "not handled: " + Integer.toHexString(opcode));
    }

    /** Register-memory form. */
    void rm(int prefix, int opcode, int reg, long addr) {
        assertTrue(SseUnit.execute(s, h, 1, opcode, prefix, false, reg, -1, addr, 0),
                () -> "not handled: " + Integer.toHexString(opcode));
    }

    void xmm(int r, long lo, long hi) {
        s.setXmm(r, lo, hi);
    }

    void assertXmm(int r, long lo, long hi) {
        assertEquals(Long.toHexString(lo) + ":" + Long.toHexString(hi),
                Long.toHexString(s.xmmLow(r)) + ":" + Long.toHexString(s.xmmHigh(r)));
    }

    void assertFault(int vector, Runnable r) {
        FakeHost.Fault f = assertThrows(FakeHost.Fault.class, r::run);
        assertEquals(vector, f.vector);
    }

    static long d(double v) {
        return Double.doubleToRawLongBits(v);
    }

    static long f(float v) {
        return Float.floatToRawIntBits(v) & 0xFFFFFFFFL;
    }

    static long pack(float lo, float hi) {
        return f(lo) | (f(hi) << 32);
    }

    /** Four 16-bit words, lowest first. */
    static long words(int w0, int w1, int w2, int w3) {
        return (w0 & 0xFFFFL) | (w1 & 0xFFFFL) << 16 | (w2 & 0xFFFFL) << 32 | (long) (w3 & 0xFFFF) << 48;
    }
}
