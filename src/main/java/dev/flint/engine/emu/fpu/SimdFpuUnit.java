package dev.flint.engine.emu.fpu;

import dev.flint.engine.emu.cpu.FpuInstruction;
import dev.flint.engine.emu.cpu.FpuUnit;

/** This package's x87, MMX and SSE units behind the core's {@link FpuUnit} seam: one per vCPU. */
public final class SimdFpuUnit implements FpuUnit {
    private static final int UD = 6;
    private final FpuState state = new FpuState();

    @Override
    public void execute(FpuHost host, FpuInstruction insn) {
        boolean done = switch (insn.map) {
            case FpuInstruction.MAP_ONE -> {
                if (insn.opcode == 0x9B) {
                    X87Unit.fwait(state, host);
                    yield true;
                }
                long rflags = host.rflags();
                yield X87Unit.execute(state, host, insn.opcode, insn.modrm, insn.address, 0, rflags);
            }
            case FpuInstruction.MAP_0F -> {
                if (insn.opcode == 0x77) {
                    SseUnit.emms(state, host);
                    yield true;
                }
                yield SseUnit.execute(state, host, 1, insn.opcode, insn.mandatoryPrefix, insn.rexW, insn.reg,
                        insn.memory ? -1 : insn.rm, insn.opcode == 0xF7 ? maskedStoreAddress(host) : insn.address,
                        insn.imm8);
            }
            case FpuInstruction.MAP_0F38 -> SseUnit.execute(state, host, 2, insn.opcode, insn.mandatoryPrefix,
                    insn.rexW, insn.reg, insn.memory ? -1 : insn.rm, insn.address, insn.imm8);
            case FpuInstruction.MAP_0F3A -> SseUnit.execute(state, host, 3, insn.opcode, insn.mandatoryPrefix,
                    insn.rexW, insn.reg, insn.memory ? -1 : insn.rm, insn.address, insn.imm8);
            default -> false;
        };
        if (!done) throw host.fault(UD, 0);
    }

    /**
     * MASKMOVQ/MASKMOVDQU store through DS:rDI, which the decoder does not compute (their ModRM names two
     * registers). Flint's guests run with flat data segments, so the linear address is rDI itself; outside
     * long mode the 32-bit EDI is used (an address-size prefix is not honoured here).
     */
    private static long maskedStoreAddress(FpuHost host) {
        long rdi = host.readGpr(7);
        return host.longMode() ? rdi : rdi & 0xFFFFFFFFL;
    }

    @Override public long xmm(int reg, int half) { return half == 0 ? state.xmmLow(reg) : state.xmmHigh(reg); }
    @Override public void setXmm(int reg, long low, long high) { state.setXmm(reg, low, high); }
    @Override public void reset() { state.reset(); }

    @Override public void save(dev.flint.machine.state.StateWriter.Section out) { state.save(out); }

    @Override public void restore(dev.flint.machine.state.StateReader.Section in) { state.restore(in); }
}
