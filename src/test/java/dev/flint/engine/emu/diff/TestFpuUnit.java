package dev.flint.engine.emu.diff;

import dev.flint.engine.emu.cpu.FpuInstruction;
import dev.flint.engine.emu.cpu.FpuUnit;
import dev.flint.engine.emu.fpu.FpuHost;
import dev.flint.engine.emu.fpu.SimdFpuUnit;

/**
 * The production x87/MMX/SSE units ({@link SimdFpuUnit}) plus what the differential test needs on top:
 * MXCSR at reset is whatever the case starts from, and the final MXCSR can be read back. Both go through
 * the unit's own LDMXCSR/STMXCSR (0F AE /2, /3) against a one-value memory, so nothing of the unit's
 * internals is reached around its seam.
 */
final class TestFpuUnit implements FpuUnit {
    private final SimdFpuUnit units = new SimdFpuUnit();
    private int mxcsrAtReset = 0x1F80;

    void mxcsrAtReset(int mxcsr) {
        this.mxcsrAtReset = mxcsr;
    }

    int mxcsr() {
        OneWord word = new OneWord(0);
        units.execute(word, mxcsrAccess(3));                       // STMXCSR
        return word.value;
    }

    @Override
    public void execute(FpuHost host, FpuInstruction insn) {
        units.execute(host, insn);
    }

    @Override
    public long xmm(int reg, int half) {
        return units.xmm(reg, half);
    }

    @Override
    public void setXmm(int reg, long low, long high) {
        units.setXmm(reg, low, high);
    }

    @Override
    public void reset() {
        units.reset();
        units.execute(new OneWord(mxcsrAtReset), mxcsrAccess(2));  // LDMXCSR
    }

    private static FpuInstruction mxcsrAccess(int digit) {
        FpuInstruction insn = new FpuInstruction();
        insn.map = FpuInstruction.MAP_0F;
        insn.opcode = 0xAE;
        insn.modrm = digit << 3 | 5;
        insn.reg = digit;
        insn.memory = true;
        insn.operandSize = 4;
        return insn;
    }

    /** A host whose whole memory is one 32-bit word, with SSE enabled (CR0.EM/TS clear, CR4.OSFXSR set). */
    private static final class OneWord implements FpuHost {
        int value;

        OneWord(int value) {
            this.value = value;
        }

        @Override public long readGpr(int index) { throw new UnsupportedOperationException(); }
        @Override public void writeGpr(int index, long v, int sizeBytes) { throw new UnsupportedOperationException(); }
        @Override public long readMem(long linear, int size) { return value & 0xFFFF_FFFFL; }
        @Override public void writeMem(long linear, int size, long v) { value = (int) v; }
        @Override public void setCompareFlags(boolean zf, boolean pf, boolean cf) { throw new UnsupportedOperationException(); }
        @Override public RuntimeException fault(int vector, int errorCode) {
            return new IllegalStateException("MXCSR access failed: vector " + vector + " (value 0x" + Integer.toHexString(value) + ")");
        }
        @Override public long cr0() { return 0x8000_0033L; }   // PG NE ET MP PE
        @Override public long cr4() { return 1 << 9; }         // OSFXSR
        @Override public boolean longMode() { return true; }
    }
}
