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
        return machine(CpuOptions.defaults().withCompileThreshold(compileThreshold), pages);
    }

    private static SystemTestMachine machine(CpuOptions options, String... pages) {
        SystemTestMachine m = new SystemTestMachine(options);
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
                    // A compiled block runs whole past the budget, but no block starts once it is reached:
                    // with blocks of two instructions a slice is 1,000 or 1,001.
                    assertTrue(ran >= 1000 && ran <= 1001, ran + " instructions in a slice of 1000 (threshold " + threshold + ")");
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

    /**
     * At 0x8000 inc ecx; mov eax, ecx; shr eax, 4; mov [rsi], al; jmp 0x9000, with RSI = 0x9002: every pass stores
     * into the immediate of the ADD at 0x9000 (add ebx, imm8; jmp 0xA000), a new value every 16th pass and the same
     * value otherwise; 0xA000 is add edx, 1; jmp 0x8000.
     */
    private static final String[] REWRITING_RING = {"ffc1" + "89c8" + "c1e804" + "8806" + "e9f20f0000",
            "83c300" + "e9f80f0000", "83c201" + "e9f8dfffff"};

    /**
     * A block reached through a link runs only while its code is still in memory: here it is rewritten by the
     * block before it in the ring, on every 16th pass, after a stretch of passes that left its bytes as they
     * were, so that the link is followed in between (and, in round ten's experiment, a compiled block's
     * hand-off to its compiled successor: docs/emu-speed.md).
     */
    @Test
    void aLinkedBlockRunsOnlyWhileItsCodeIsStillInMemory() {
        for (long threshold : new long[] {0, 1}) {
            try (SystemTestMachine m = machine(threshold, REWRITING_RING)) {
                m.state.gpr[6] = CODE + 0x1002;
                for (int slice = 0; slice < 200; slice++) m.cpu.execute(1000);
                // The ADD at 0x9000 has run once per pass (the ECX-th pass stored (ECX >> 4) into it first),
                // but not yet in the pass the slice ended in if it ended before it (after the INC).
                long rip = m.state.rip;
                boolean addDone = rip == CODE || (rip > CODE + 0x1000 && rip < CODE + 0x3000);
                long passes = m.state.gpr[1] - (addDone ? 0 : 1);
                int expected = 0;
                for (int pass = 1; pass <= passes; pass++) expected += (byte) (pass >>> 4);
                assertEquals(expected & 0xFFFF_FFFFL, m.state.gpr[3], "EBX after " + passes + " passes (threshold " + threshold + ")");
                if (threshold == 1) {
                    assertTrue(m.cpu.statistics().compiledInstructions() > m.cpu.statistics().instructions() / 2,
                            m.cpu.statistics().compiledInstructions() + " compiled instructions");
                }
            }
        }
    }

    /**
     * At 0x8000 add eax, 1; jmp 0x9000; there add rbx, rdi; mov ecx, [rbx]; jmp 0xA000; there add edx, 1; jmp
     * 0x8000. With RBX = 1 MiB and RDI = 4 KiB the load of the 256th pass reads at 2 MiB, past the mapped memory.
     */
    private static final String[] FAULTING_RING = {"83c001" + "e9f80f0000", "4801fb" + "8b0b" + "e9f60f0000",
            "83c201" + "e9f8dfffff"};

    /**
     * A fault in a block reached through a link, after a run of linked blocks, restarts the faulting instruction
     * with the registers as they were before it (no block before it puts its own registers or instruction back,
     * which a compiled block handing on to its successor, round ten's experiment, had to keep so), and the
     * blocks that ran before it are counted.
     */
    @Test
    void aFaultInALinkedBlockRestartsItsInstructionWithEveryBlockBeforeItCounted() {
        for (long threshold : new long[] {0, 1}) {
            try (SystemTestMachine m = machine(CpuOptions.defaults().withCompileThreshold(threshold).withStopOnFault(true),
                    FAULTING_RING)) {
                m.state.gpr[3] = 0x10_0000;
                m.state.gpr[7] = 0x1000;
                int exit = Cpu.EXIT_BUDGET;
                for (int slice = 0; slice < 100 && exit == Cpu.EXIT_BUDGET; slice++) exit = m.cpu.execute(1000);
                assertEquals(Cpu.EXIT_FAULT, exit, "threshold " + threshold);
                assertEquals(GuestFault.PF, m.cpu.lastFault().vector);
                assertEquals(CODE + 0x1003, m.state.rip, "RIP at the load (threshold " + threshold + ")");
                assertEquals(0x20_0000, m.state.gpr[3], "RBX (threshold " + threshold + ")");
                assertEquals(256, m.state.gpr[0], "EAX (threshold " + threshold + ")");
                assertEquals(255, m.state.gpr[2], "EDX (threshold " + threshold + ")");
                // 255 whole passes of 7 and the 256th's add and jmp; the faulting block's add may be counted too.
                long counted = m.cpu.statistics().instructions();
                assertTrue(counted >= 255 * 7 + 2 && counted <= 255 * 7 + 4, counted + " instructions counted (threshold " + threshold + ")");
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
