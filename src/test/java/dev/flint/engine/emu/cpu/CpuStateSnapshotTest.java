package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.fpu.FpuState;
import dev.flint.machine.state.SnapshotException;
import dev.flint.machine.state.StateReader;
import dev.flint.machine.state.StateWriter;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** A vCPU's register file and x87/SSE state come back from a snapshot field for field. */
class CpuStateSnapshotTest {
    private static final long SEED = 0x5EED_12L; // fixed: the values only need to differ from each other

    @Test
    void registersRoundTrip() {
        Random r = new Random(SEED);
        CpuState a = new CpuState();
        for (int i = 0; i < 16; i++) a.gpr[i] = r.nextLong();
        a.rip = r.nextLong();
        a.flags.load(0x0000_0000_0025_0ED7L);
        for (int i = 0; i < 8; i++) {
            a.segSel[i] = r.nextInt(0x10000);
            a.segBase[i] = r.nextLong();
            a.segLimit[i] = r.nextInt() & 0xFFFF_FFFFL;
            a.segAttr[i] = r.nextInt(0x10000);
        }
        a.gdtBase = r.nextLong(); a.idtBase = r.nextLong(); a.gdtLimit = 0x7F; a.idtLimit = 0xFFF;
        a.cr0 = 0x8005_0033L; a.cr2 = r.nextLong(); a.cr3 = 0x1234_5000L; a.cr4 = 0x6B0; a.efer = 0xD01;
        for (int i = 0; i < 8; i++) a.dr[i] = r.nextLong();
        a.star = r.nextLong(); a.lstar = r.nextLong(); a.cstar = r.nextLong(); a.sfmask = r.nextLong();
        a.kernelGsBase = r.nextLong(); a.pat = r.nextLong(); a.miscEnable = r.nextLong(); a.tscAux = r.nextLong();
        a.sysenterCs = r.nextLong(); a.sysenterEsp = r.nextLong(); a.sysenterEip = r.nextLong();
        a.cpl = 3;

        StateWriter w = new StateWriter();
        try (var s = w.section("cpu")) { a.save(s); }
        CpuState b = new CpuState();
        var in = StateReader.of(w).section("cpu");
        b.restore(in);
        in.end();
        assertEquals(a.dump(), b.dump());
        assertEquals(a.flags.get(), b.flags.get());
        assertArrayEquals(a.dr, b.dr);
        assertEquals(java.util.List.of(a.star, a.lstar, a.cstar, a.sfmask, a.kernelGsBase, a.pat, a.miscEnable, a.tscAux,
                        a.sysenterCs, a.sysenterEsp, a.sysenterEip, (long) a.cpl),
                java.util.List.of(b.star, b.lstar, b.cstar, b.sfmask, b.kernelGsBase, b.pat, b.miscEnable, b.tscAux,
                        b.sysenterCs, b.sysenterEsp, b.sysenterEip, (long) b.cpl));
    }

    @Test
    void fpuAndSseStateRoundTripBitExact() {
        Random r = new Random(SEED + 1);
        FpuState a = new FpuState();
        for (int i = 0; i < 16; i++) a.setXmm(i, r.nextLong(), r.nextLong());
        StateWriter w = new StateWriter();
        try (var s = w.section("fpu")) { a.save(s); }
        FpuState b = new FpuState();
        var in = StateReader.of(w).section("fpu");
        b.restore(in);
        in.end();
        StateWriter again = new StateWriter();
        try (var s = again.section("fpu")) { b.save(s); }
        var x = StateReader.of(w).section("fpu");
        var y = StateReader.of(again).section("fpu");
        assertArrayEquals(x.getLongs(8), y.getLongs(8), "x87 significands (MMX)");
        assertArrayEquals(x.getInts(8), y.getInts(8), "x87 sign/exponent words");
        assertArrayEquals(x.getLongs(32), y.getLongs(32), "XMM0-15");
        for (int i = 0; i < 16; i++) {
            assertEquals(a.xmmLow(i), b.xmmLow(i));
            assertEquals(a.xmmHigh(i), b.xmmHigh(i));
        }
        assertEquals(a.mxcsr(), b.mxcsr());
        assertEquals(a.controlWord(), b.controlWord());
    }

    @Test
    void aStateOfAnotherShapeIsRefused() {
        StateWriter w = new StateWriter();
        try (var s = w.section("cpu")) { s.putLongs(new long[15]); }
        var in = StateReader.of(w).section("cpu");
        assertThrows(SnapshotException.class, () -> new CpuState().restore(in), "15 GPRs are not an x86-64 register file");
    }
}
