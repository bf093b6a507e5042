package dev.flint.engine.emu.cpu;

import dev.flint.arch.x86.CpuBootState;
import dev.flint.arch.x86.Segment;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Cpu#execute} follows the links from block to block without going back to its own loop for each one
 * (round nine of docs/emu-speed.md); what its loop checked between blocks must still hold: a slice ends at its
 * budget (give or take one compiled block), the counters count every instruction of every block, and an
 * instruction that opens an interrupt shadow (STI) still hands the next instruction to the single-step path,
 * after which execute returns for the interrupt check. Each case runs replayed and compiled.
 */
class BlockChainTest {
    private static final long CODE = 0x8000;

    /**
     * At 0x8000 add eax, 1; jmp 0x9000; there add ebx, 1; jmp 0xA000; there add edx, 1; jmp 0x8000: three linked
     * blocks in a ring, each on its own page so that compiling one does not make a region of all three.
     */
    private static final String[] RING = {"83c001" + "e9f80f0000", "83c301" + "e9f80f0000", "83c201" + "e9f8dfffff"};

    /** L: cli; sti; nop; jmp L: STI's shadow covers the NOP, after which an interrupt could be taken. */
    private static final String STI_LOOP = "fafb90ebfb";

    private static SystemTestMachine machine(long compileThreshold, String... pages) {
        SystemTestMachine m = new SystemTestMachine(CpuOptions.defaults().withCompileThreshold(compileThreshold));
        m.identityMap();
        for (int p = 0; p < pages.length; p++) m.load(CODE + 0x1000L * p, pages[p]);
        m.cpu.boot(new CpuBootState(0, 0, 0, 0, 0, 0, 0x7000, 0, CODE, 2,
                Segment.code64(0x08), Segment.data(0x10), Segment.data(0x10), Segment.data(0x10), Segment.data(0x10),
                Segment.data(0x10), Segment.tss(0), Segment.unusable(), 0, 0, 0, 0,
                CpuState.CR0_PE | CpuState.CR0_PG | CpuState.CR0_ET | CpuState.CR0_WP, SystemTestMachine.PML4,
                CpuState.CR4_PAE, CpuState.EFER_LME | CpuState.EFER_LMA));
        return m;
    }

    @Test
    void aRingOfLinkedBlocksReturnsAtTheBudgetWithEveryInstructionCounted() {
        for (long threshold : new long[] {0, 1}) {
            try (SystemTestMachine m = machine(threshold, RING)) {
                CpuStatistics stats = m.cpu.statistics();
                for (int slice = 0; slice < 200; slice++) {
                    long before = stats.instructions();
                    assertEquals(Cpu.EXIT_BUDGET, m.cpu.execute(1000), "slice " + slice);
                    long ran = stats.instructions() - before;
                    // A compiled block runs whole past the budget, by at most 63 instructions.
                    assertTrue(ran >= 1000 && ran <= 1063, ran + " instructions in a slice of 1000 (threshold " + threshold + ")");
                }
                // Every other instruction is an ADD of 1 to one of the three registers.
                long adds = m.state.gpr[0] + m.state.gpr[3] + m.state.gpr[2];
                assertTrue(Math.abs(2 * adds - stats.instructions()) <= 1,
                        adds + " ADDs ran, " + stats.instructions() + " instructions counted (threshold " + threshold + ")");
                assertTrue(stats.linkedEntries() > 200 * 1000 / 2 * 9 / 10,
                        stats.linkedEntries() + " linked entries (threshold " + threshold + ")");
            }
        }
    }

    @Test
    void anInterruptShadowStillEndsTheSliceAfterTheInstructionItCovers() {
        for (long threshold : new long[] {0, 1}) {
            try (SystemTestMachine m = machine(threshold, STI_LOOP)) {
                CpuStatistics stats = m.cpu.statistics();
                for (int slice = 0; slice < 500; slice++) {
                    long before = stats.instructions();
                    assertEquals(Cpu.EXIT_INTERRUPT_CHECK, m.cpu.execute(1_000_000), "slice " + slice + " (threshold " + threshold + ")");
                    long ran = stats.instructions() - before;
                    assertTrue(ran <= 4, ran + " instructions before the interrupt check (threshold " + threshold + ")");
                    assertEquals(CODE + 3, m.state.rip, "execute returned right after the NOP under STI's shadow");
                }
                assertTrue(stats.linkedEntries() > 400, stats.linkedEntries() + " linked entries");
            }
        }
    }
}
