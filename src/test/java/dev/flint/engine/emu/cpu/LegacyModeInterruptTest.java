package dev.flint.engine.emu.cpu;

import dev.flint.arch.x86.CpuBootState;
import dev.flint.arch.x86.Segment;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** INT/IRET through the real-mode IVT, then through a 32-bit interrupt gate in protected mode. */
class LegacyModeInterruptTest {
    /** rp.s at 0x8000: real mode int 0x21 (handler16 at 0x8027 sets BX), switch to 32-bit protected
     *  mode, int 0x30 (handler32 at 0x803d sets ESI and reads the pushed CS), hlt. */
    private static final String PROGRAM = "31c08ed0bc0070b83412cd2189d90f011648800f011e4e800f20c06683c8010f22c0ea2b80"
            + "0800bb7856cf66b810008ed88ed0bc00600000cd3089f7f4beefcdab008b542404cf901700588000008701004000000f1f4000"
            + "0000000000000000ffff0000009acf00ffff00000092cf00";

    @Test
    void realModeIvtThenProtectedModeGate() {
        try (SystemTestMachine m = new SystemTestMachine()) {
            m.load(0x8000, PROGRAM);
            m.memory.writeInt(0x21 * 4, 0x8027);                      // IVT: 0000:8027
            long handler = 0x803d;                                      // 32-bit interrupt gate, selector 8
            m.memory.writeLong(0x4000 + 0x30 * 8, (handler & 0xFFFF) | (0x08L << 16) | (0x8EL << 40)
                    | ((handler >>> 16) << 48));
            CpuBootState reset = CpuBootState.reset();
            m.cpu.boot(new CpuBootState(0, 0, 0, 0, 0, 0, 0, 0, 0x8000, 0x202,
                    Segment.real(0, 0xB), reset.ds(), reset.es(), reset.fs(), reset.gs(), reset.ss(),
                    reset.tr(), reset.ldt(), 0, 0xFFFF, 0, 0x3FF, 0x10, 0, 0, 0));
            m.runToHalt(1000);
            long[] r = m.state.gpr;
            assertTrue(m.cpu.halted());
            assertEquals(0x5678, r[CpuState.RCX] & 0xFFFF, "real-mode handler ran and IRET returned");
            assertEquals(0xABCDEF, r[CpuState.RDI], "protected-mode handler ran and IRETD returned");
            assertEquals(0x08, r[CpuState.RDX], "the gate pushed CS");
            assertEquals(0x6000, r[CpuState.RSP], "stack balanced after IRETD");
            assertTrue(m.state.flags.interruptsEnabled(), "IRET restored IF");
        }
    }
}
