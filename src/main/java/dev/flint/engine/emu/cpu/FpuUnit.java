package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.fpu.FpuHost;

/**
 * The x87/MMX/SSE units as the core calls them: the core decodes prefixes, the opcode and the ModRM
 * operand (computing the linear address of a memory operand, RIP-relative included), then hands the
 * instruction over. Implemented by the {@code engine.emu.fpu} package; {@link #none()} stands in (every
 * such instruction raises #UD) until it is plugged in.
 */
public interface FpuUnit {
    /** Executes one instruction or throws the fault {@code host.fault(...)} gives (#UD for unknown ones). */
    void execute(FpuHost host, FpuInstruction insn);

    /** Half {@code half} (0 = bits 63:0, 1 = bits 127:64) of XMM register {@code reg}. */
    long xmm(int reg, int half);

    void setXmm(int reg, long low, long high);

    /** Power-on / INIT state of the units (FNINIT + MXCSR = 0x1F80 + XMM cleared). */
    void reset();

    /** Snapshot of the units' registers. */
    default void save(dev.flint.machine.state.StateWriter.Section out) {
        for (int i = 0; i < 16; i++) out.putLong(xmm(i, 0)).putLong(xmm(i, 1));
    }

    default void restore(dev.flint.machine.state.StateReader.Section in) {
        for (int i = 0; i < 16; i++) setXmm(i, in.getLong(), in.getLong());
    }

    /** No units: XMM registers are plain storage and every x87/SSE instruction is #UD. */
    static FpuUnit none() {
        return new FpuUnit() {
        private final long[] regs = new long[32];

        @Override
        public void execute(FpuHost host, FpuInstruction insn) {
            throw host.fault(GuestFault.UD, 0);
        }

        @Override
        public long xmm(int reg, int half) { return regs[reg * 2 + half]; }

        @Override
        public void setXmm(int reg, long low, long high) {
            regs[reg * 2] = low;
            regs[reg * 2 + 1] = high;
        }

        @Override
        public void reset() { java.util.Arrays.fill(regs, 0); }
        };
    }
}
