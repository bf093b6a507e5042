package dev.flint.engine.emu.fpu;

import dev.flint.engine.emu.cpu.FpuInstruction;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The adapter between the core's FpuUnit seam and this package's units. */
class SimdFpuUnitTest {
    private final SimdFpuUnit unit = new SimdFpuUnit();
    private final FakeHost h = new FakeHost();

    private static FpuInstruction insn(int map, int opcode, int prefix, int modrm) {
        FpuInstruction i = new FpuInstruction();
        i.map = map;
        i.opcode = opcode;
        i.mandatoryPrefix = prefix;
        i.modrm = modrm;
        i.reg = (modrm >>> 3) & 7;
        i.rm = modrm & 7;
        i.memory = (modrm >>> 6) != 3;
        return i;
    }

    @Test
    void maskmovdquStoresThroughRdi() {
        unit.setXmm(0, 0x2211, 0);
        unit.setXmm(1, 0x8080, 0);
        h.gpr[7] = 0x300;
        unit.execute(h, insn(FpuInstruction.MAP_0F, 0xF7, 0x66, 0xC1)); // MASKMOVDQU xmm0, xmm1
        assertEquals(0x2211, h.readMem(0x300, 2));
    }

    @Test
    void routesX87AndSseAndRejectsUnknownOpcodes() {
        unit.execute(h, insn(FpuInstruction.MAP_ONE, 0xD9, 0, 0xE8)); // FLD1
        FpuInstruction store = insn(FpuInstruction.MAP_ONE, 0xDD, 0, 0x18); // FSTP m64
        store.address = 0x400;
        unit.execute(h, store);
        assertEquals(Double.doubleToRawLongBits(1.0), h.readMem(0x400, 8));
        unit.setXmm(2, 5, 0);
        unit.execute(h, insn(FpuInstruction.MAP_0F, 0xD4, 0x66, 0xD2)); // PADDQ xmm2, xmm2
        assertEquals(10, unit.xmm(2, 0));
        FakeHost.Fault f = assertThrows(FakeHost.Fault.class,
                () -> unit.execute(h, insn(FpuInstruction.MAP_0F38, 0x10, 0x66, 0xC1))); // SSE4.1: #UD
        assertEquals(6, f.vector);
    }
}
