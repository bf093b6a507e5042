package dev.flint.engine.emu.cpu;

import dev.flint.arch.x86.CpuBootState;
import dev.flint.arch.x86.Segment;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Direct links between blocks on global pages survive CR3 writes (the kernel's code across the address-space
 * switches of a pipe between two processes), while a link into a page whose translation a flush may have
 * changed is not followed: a CR3 write for a non-global page (or any page when CR4.PGE is off), INVLPG for a
 * global one.
 *
 * <p>The program, on a global page at 0x8000, calls a function at 0x9000 a hundred times, flushing before each
 * call; before the last it remaps that page from a function that adds 1 to EDX to one that adds 1,000.
 */
class GlobalPageLinkTest {
    private static final long PT = 0x5000, P = 1, RW = 2, G = 0x100;
    private static final long CODE = 0x8000, CALLED = 0x9000, ADD_ONE = 0x9000, ADD_THOUSAND = 0xA000;
    private static final long CALLED_PTE = PT + CALLED / 0x1000 * 8;
    private static final int PASSES = 100, EXPECTED = (PASSES - 1) + 1000;

    // mov ecx, 100; L: cmp ecx, 1; jne S; mov [r8], rdi; S: FLUSH; call R; call 0x9000; dec ecx; jnz L; hlt;
    // and at R (0x8100): ret. FLUSH is 3 bytes: mov cr3, rax (0f22d8) or invlpg [rax] (0f0138). The last pass
    // remaps 0x9000 before its flush. An instruction that changes the translations is decoded afresh each time
    // and the block after it is looked up; the call to R puts blocks between it and the CALL of 0x9000 that
    // are reached through links made before the flush.
    private static String program(String flush) {
        return "b964000000" + "83f901" + "7503" + "498938" + flush + "e8eb000000" + "e8e60f0000" + "ffc9" + "75e7" + "f4";
    }

    private record Run(long edx, CpuStatistics stats) {}

    private static Run run(boolean pge, long calledGlobal, String flush, long compileThreshold) {
        try (SystemTestMachine m = new SystemTestMachine(CpuOptions.defaults().withCompileThreshold(compileThreshold))) {
            m.memory.writeLong(SystemTestMachine.PML4, SystemTestMachine.PDPT | 7);
            m.memory.writeLong(SystemTestMachine.PDPT, SystemTestMachine.PD | 7);
            m.memory.writeLong(SystemTestMachine.PD, PT | 7);
            for (long page = 0; page < 0x10000; page += 0x1000) m.memory.writeLong(PT + page / 0x1000 * 8, page | P | RW);
            m.memory.writeLong(PT + CODE / 0x1000 * 8, CODE | P | RW | G);
            m.memory.writeLong(CALLED_PTE, ADD_ONE | P | RW | calledGlobal);
            m.load(CODE, program(flush));
            m.load(CODE + 0x100, "c3"); // R: ret
            m.load(ADD_ONE, "83c201c3"); // add edx, 1; ret
            m.load(ADD_THOUSAND, "81c2e8030000c3"); // add edx, 1000; ret
            m.cpu.boot(new CpuBootState(0, 0, 0, 0, 0, 0, 0x7000, 0, CODE, 2,
                    Segment.code64(0x08), Segment.data(0x10), Segment.data(0x10), Segment.data(0x10), Segment.data(0x10),
                    Segment.data(0x10), Segment.tss(0), Segment.unusable(), 0, 0, 0, 0,
                    CpuState.CR0_PE | CpuState.CR0_PG | CpuState.CR0_ET | CpuState.CR0_WP, SystemTestMachine.PML4,
                    CpuState.CR4_PAE | (pge ? CpuState.CR4_PGE : 0), CpuState.EFER_LME | CpuState.EFER_LMA));
            m.state.gpr[0] = flush.equals(CR3_WRITE) ? SystemTestMachine.PML4 : CALLED; // rax
            m.state.gpr[7] = ADD_THOUSAND | P | RW | calledGlobal; // rdi
            m.state.gpr[8] = CALLED_PTE;
            m.runToHalt(100_000);
            assertTrue(m.cpu.halted(), "the program ran to its HLT");
            return new Run(m.state.gpr[2], m.cpu.statistics());
        }
    }

    private static final String CR3_WRITE = "0f22d8", INVLPG = "0f0138";

    @Test
    void linksToGlobalCodeSurviveCr3WritesAndLinksToTheRemappedPageDoNot() {
        for (long threshold : new long[] {0, 1}) {
            Run r = run(true, 0, CR3_WRITE, threshold);
            assertEquals(EXPECTED, r.edx(), "each call ran the page mapped at the time (threshold " + threshold + ")");
        }
        CpuStatistics stats = run(true, 0, CR3_WRITE, 0).stats();
        // Per pass, three block entries on the global page follow links made before the CR3 write (R's RET, the
        // CALL of 0x9000, the return from the function), which were lookups when every CR3 write dropped all
        // links (5 lookups and 1 linked entry a pass then). The call of R (after the freshly decoded CR3 write)
        // and the function (on the page that is not global) are looked up.
        assertTrue(stats.lookups() <= 2 * PASSES + 20 && stats.linkedEntries() >= 4 * PASSES - 20,
                stats.lookups() + " lookups, " + stats.linkedEntries() + " linked entries");
    }

    @Test
    void withoutPgeACr3WriteDropsGlobalTranslationsAndTheirLinks() {
        for (long threshold : new long[] {0, 1}) {
            Run r = run(false, G, CR3_WRITE, threshold);
            assertEquals(EXPECTED, r.edx(), "threshold " + threshold);
        }
    }

    @Test
    void invlpgOfAGlobalPageDropsTheLinksIntoIt() {
        for (long threshold : new long[] {0, 1}) {
            Run r = run(true, G, INVLPG, threshold);
            assertEquals(EXPECTED, r.edx(), "threshold " + threshold);
        }
    }
}
