package dev.flint.engine.emu.diff;

import dev.flint.engine.emu.cpu.FpuInstruction;
import dev.flint.engine.emu.cpu.FpuUnit;
import dev.flint.engine.emu.fpu.FpuHost;
import dev.flint.engine.emu.fpu.FpuState;
import dev.flint.engine.emu.fpu.SseUnit;
import dev.flint.engine.emu.fpu.X87Unit;

/**
 * Test-side bridge from the core's {@link FpuUnit} seam to the x87 and SSE units ({@link X87Unit},
 * {@link SseUnit} over an {@link FpuState}), with the one extra the differential test needs: MXCSR at
 * reset is whatever the case starts from, and the final MXCSR can be read back. The x87 instruction
 * pointer and RFLAGS are not passed (no FCMOV is generated; FIP is not compared).
 */
final class TestFpuUnit implements FpuUnit {
    private static final int UD = 6;

    private final FpuState state = new FpuState();
    private int mxcsrAtReset = 0x1F80;

    void mxcsrAtReset(int mxcsr) {
        this.mxcsrAtReset = mxcsr;
    }

    int mxcsr() {
        return state.mxcsr();
    }

    @Override
    public void execute(FpuHost host, FpuInstruction insn) {
        if (insn.map == FpuInstruction.MAP_0F && insn.opcode == 0x77) {
            SseUnit.emms(state, host);
            return;
        }
        if (insn.map == FpuInstruction.MAP_ONE) {
            if (insn.opcode == 0x9B) {
                X87Unit.fwait(state, host);
                return;
            }
            if (!X87Unit.execute(state, host, insn.opcode, insn.modrm, insn.address, 0, 0)) {
                throw host.fault(UD, 0);
            }
            return;
        }
        boolean done = SseUnit.execute(state, host, insn.map, insn.opcode,
                insn.mandatoryPrefix, insn.rexW, insn.reg, insn.memory ? -1 : insn.rm, insn.address, insn.imm8);
        if (!done) {
            throw host.fault(UD, 0);
        }
    }

    @Override
    public long xmm(int reg, int half) {
        return half == 0 ? state.xmmLow(reg) : state.xmmHigh(reg);
    }

    @Override
    public void setXmm(int reg, long low, long high) {
        state.setXmm(reg, low, high);
    }

    @Override
    public void reset() {
        state.reset();
        SseUnit.loadMxcsr(state, new MxcsrSource(mxcsrAtReset), 0);
    }

    /** Just enough of a host for LDMXCSR to take the value from: SSE enabled, memory is the value. */
    private record MxcsrSource(int mxcsr) implements FpuHost {
        @Override public long readGpr(int index) { throw new UnsupportedOperationException(); }
        @Override public void writeGpr(int index, long value, int sizeBytes) { throw new UnsupportedOperationException(); }
        @Override public long readMem(long linear, int size) { return mxcsr & 0xFFFF_FFFFL; }
        @Override public void writeMem(long linear, int size, long value) { throw new UnsupportedOperationException(); }
        @Override public void setCompareFlags(boolean zf, boolean pf, boolean cf) { throw new UnsupportedOperationException(); }
        @Override public RuntimeException fault(int vector, int errorCode) {
            return new IllegalArgumentException("MXCSR " + Integer.toHexString(mxcsr) + " rejected: vector " + vector);
        }
        @Override public long cr0() { return 0x8000_0033L; }   // PG NE ET MP PE: no EM, no TS
        @Override public long cr4() { return 1 << 9; }         // OSFXSR
        @Override public boolean longMode() { return true; }
    }
}
