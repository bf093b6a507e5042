package dev.flint.engine.emu.cpu;

import dev.flint.arch.x86.CpuBootState;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The path the Linux SMP trampoline takes: real mode → (LGDT, CR0.PE, far jump) 32-bit protected mode
 * → (CR4.PAE, CR3, EFER.LME, CR0.PG, far jump) 64-bit long mode.
 */
class ModeSwitchTest {
    /** mode.s: see the comments in {@link #realToProtectedToLong()}. Assembled at 0x8000. */
    private static final String PROGRAM = "fa31c08ed80f011678800f20c06683c8010f22c0ea1980080066b810008ed88ec08ed0bc0070000068aa5500005f"
            + "0f20e083c8200f22e0b8001000000f22d8b9800000c00f320d000100000f300f20c00d000000800f22c0ea5f800000180048b888"
            + "77665544332211505b488d0d0e000000b042e680f4901f008080000066900000000000000000ffff0000009acf00ffff000000"
            + "92cf00ffff0000009aaf00";

    @Test
    void realToProtectedToLong() {
        try (SystemTestMachine m = new SystemTestMachine()) {
            m.identityMap();
            m.load(0x8000, PROGRAM);
            CpuBootState reset = CpuBootState.reset();
            m.cpu.boot(new CpuBootState(0, 0, 0, 0, 0, 0, 0, 0, 0x8000, 2,
                    dev.flint.arch.x86.Segment.real(0, 0xB), reset.ds(), reset.es(), reset.fs(), reset.gs(), reset.ss(),
                    reset.tr(), reset.ldt(), 0, 0xFFFF, 0, 0x3FF, 0x10, 0, 0, 0));
            m.runToHalt(1000);
            CpuState s = m.state;
            assertTrue(m.cpu.halted(), "reached HLT");
            assertTrue(s.mode64(), "64-bit mode");
            assertEquals(0x18, s.segSel[CpuState.CS]);
            assertEquals(0x10, s.segSel[CpuState.SS]);
            assertEquals(0x55AA, s.gpr[CpuState.RDI], "32-bit push/pop with the flat stack");
            assertEquals(0x1122334455667788L, s.gpr[CpuState.RBX]);
            assertEquals(0x8080, s.gpr[CpuState.RCX], "RIP-relative LEA of the GDT");
            assertEquals(CpuState.EFER_LME | CpuState.EFER_LMA, s.efer);
            assertEquals("42 ", m.portLog.toString());
        }
    }
}
