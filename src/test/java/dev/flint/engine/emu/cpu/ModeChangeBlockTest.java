package dev.flint.engine.emu.cpu;

import dev.flint.arch.x86.CpuBootState;
import dev.flint.arch.x86.Segment;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Instructions that change the translations or the mode (MOV CR3, SYSCALL, SYSRET, IRETQ) are kept in decoded
 * blocks as their last instruction, so the kernel's address-space switches and system-call entries and exits
 * are not decoded afresh at every pass; and the block still ends right after them, so what follows runs in
 * the new address space or mode.
 */
class ModeChangeBlockTest {
    private static final long[] THRESHOLDS = {0, 1}; // never compiled, compiled at the first entry

    private static CpuBootState kernel64(long rip, long cr3, long efer) {
        return new CpuBootState(0, 0, 0, 0, 0, 0, 0x7000, 0, rip, 2,
                Segment.code64(0x08), Segment.data(0x10), Segment.data(0x10), Segment.data(0x10), Segment.data(0x10),
                Segment.data(0x10), new Segment(0, SystemTestMachine.TSS, 0x67, 0xB, true, 0, false, false, false, false),
                Segment.unusable(), SystemTestMachine.GDT, 5 * 8 - 1, SystemTestMachine.IDT, 256 * 16 - 1,
                CpuState.CR0_PE | CpuState.CR0_PG | CpuState.CR0_ET | CpuState.CR0_WP, cr3,
                CpuState.CR4_PAE, CpuState.EFER_LME | CpuState.EFER_LMA | efer);
    }

    private static void gdt(SystemTestMachine m) {
        long[] gdt = {0, Segment.code64(0x08).toGdtEntry(), Segment.data(0x10).toGdtEntry(),
                Segment.data(0x18).toGdtEntry() | (3L << 45), Segment.code64(0x20).toGdtEntry() | (3L << 45)};
        for (int i = 0; i < gdt.length; i++) m.memory.writeLong(SystemTestMachine.GDT + 8L * i, gdt[i]);
    }

    @Test
    void aCr3WriteInALoopIsDecodedOnceAndTheLoopMatchesTheInterpreter() {
        // mov ecx, 1000; L: add edx, 1; mov cr3, rax; add edx, 2; dec ecx; jnz L; hlt
        String program = "b9e8030000" + "83c201" + "0f22d8" + "83c202" + "ffc9" + "75f3" + "f4";
        for (long threshold : THRESHOLDS) {
            try (SystemTestMachine m = new SystemTestMachine(CpuOptions.defaults().withCompileThreshold(threshold))) {
                m.identityMap();
                gdt(m);
                m.load(0x8000, program);
                m.cpu.boot(kernel64(0x8000, SystemTestMachine.PML4, 0));
                m.state.gpr[CpuState.RAX] = SystemTestMachine.PML4;
                m.runToHalt(100_000);
                assertTrue(m.cpu.halted(), "ran to its HLT");
                assertEquals(3000, m.state.gpr[CpuState.RDX], "threshold " + threshold);
                // Decoded afresh at every pass, the CR3 write alone made 1,000 block builds.
                assertTrue(m.cpu.statistics().blocksBuilt() < 20, m.cpu.statistics().blocksBuilt() + " blocks built");
            }
        }
    }

    @Test
    void systemCallsAndReturnsInALoopAreDecodedOnce() {
        // Kernel at 0x8000: IRETQ to user code at 0x8100 (CPL 3). User: L: syscall; dec esi; jnz L; mov edi, 1;
        // syscall. Entry at 0x8200: add edx, 1; test edi, edi; jnz H; sysretq; H: hlt.
        String start = "6a1b" + "6800700000" + "6802020000" + "6a23" + "6800810000" + "48cf";
        String user = "0f05" + "ffce" + "75fa" + "bf01000000" + "0f05";
        String entry = "83c201" + "85ff" + "7503" + "480f07" + "f4";
        for (long threshold : THRESHOLDS) {
            try (SystemTestMachine m = new SystemTestMachine(CpuOptions.defaults().withCompileThreshold(threshold))) {
                m.identityMap();
                gdt(m);
                m.load(0x8000, start);
                m.load(0x8100, user);
                m.load(0x8200, entry);
                m.cpu.boot(kernel64(0x8000, SystemTestMachine.PML4, CpuState.EFER_SCE));
                m.state.star = (0x10L << 48) | (0x08L << 32);
                m.state.lstar = 0x8200;
                m.state.gpr[CpuState.RSI] = 1000;
                m.runToHalt(100_000);
                assertTrue(m.cpu.halted(), "ran to its HLT");
                assertEquals(0, m.state.cpl, "halted in the kernel");
                assertEquals(1001, m.state.gpr[CpuState.RDX], "every system call entered the kernel (threshold " + threshold + ")");
                assertEquals(0x810d, m.state.gpr[CpuState.RCX], "the last SYSCALL's return address");
                // Decoded afresh at every pass, SYSCALL and SYSRETQ made 2,000 block builds.
                assertTrue(m.cpu.statistics().blocksBuilt() < 30, m.cpu.statistics().blocksBuilt() + " blocks built");
            }
        }
    }

    @Test
    void theInstructionAfterACr3WriteIsFetchedThroughTheNewTranslation() {
        for (long threshold : THRESHOLDS) assertEquals(5000, twoAddressSpaces(threshold, false).gpr[CpuState.RDX]);
    }

    @Test
    void withPcidsTheLoopGoesBackToEachAddressSpacesKeptTranslations() {
        for (long threshold : THRESHOLDS) {
            CpuState s = twoAddressSpaces(threshold, true);
            assertEquals(5000, s.gpr[CpuState.RDX], "threshold " + threshold);
        }
    }

    /**
     * Two address spaces map linear 0x8000 to two copies of the same loop, which differ only in N:
     * L: mov cr3, rax (to B); add edx, N; mov cr3, rbx (to A); dec ecx; jnz L; hlt. N = 1 in A's copy, 100
     * in B's. Each CR3 write ends its block, so the ADD always comes from B's copy and the rest of the loop
     * from A's, also when the blocks run from the cache or compiled; with {@code pcids} A and B are PCIDs 1
     * and 2 and the CR3 writes keep their translations (bit 63), so the code fetcher and the block links go
     * back to what they cached for each. Returns the state at the HLT.
     */
    private static CpuState twoAddressSpaces(long threshold, boolean pcids) {
        long pml4b = 0x11000, pdptB = 0x12000, pdB = 0x13000, ptA = 0x5000, ptB = 0x15000;
        String loop = "0f22d8" + "83c2%02x" + "0f22db" + "ffc9" + "75f3" + "f4";
        try (SystemTestMachine m = new SystemTestMachine(CpuOptions.defaults().withCompileThreshold(threshold))) {
            m.memory.writeLong(SystemTestMachine.PML4, SystemTestMachine.PDPT | 3);
            m.memory.writeLong(SystemTestMachine.PDPT, SystemTestMachine.PD | 3);
            m.memory.writeLong(SystemTestMachine.PD, ptA | 3);
            m.memory.writeLong(pml4b, pdptB | 3);
            m.memory.writeLong(pdptB, pdB | 3);
            m.memory.writeLong(pdB, ptB | 3);
            for (long page = 0; page < 0x20000; page += 0x1000) {
                m.memory.writeLong(ptA + page / 0x1000 * 8, page | 3);
                m.memory.writeLong(ptB + page / 0x1000 * 8, (page == 0x8000 ? 0xB000 : page) | 3);
            }
            gdt(m);
            m.load(0x8000, loop.formatted(1));
            m.load(0xB000, loop.formatted(100));
            m.cpu.boot(kernel64(0x8000, SystemTestMachine.PML4, 0));
            long noFlush = 1L << 63;
            m.state.gpr[CpuState.RAX] = pcids ? pml4b | 2 | noFlush : pml4b;
            m.state.gpr[CpuState.RBX] = pcids ? SystemTestMachine.PML4 | 1 | noFlush : SystemTestMachine.PML4;
            if (pcids) m.state.cr4 |= CpuState.CR4_PCIDE; // CR3 names PCID 0 at the start
            m.state.gpr[CpuState.RCX] = 50;
            m.runToHalt(10_000);
            assertTrue(m.cpu.halted(), "ran to its HLT");
            if (pcids) {
                assertTrue(m.cpu.mmu().keptSwitches() >= 96, m.cpu.mmu().keptSwitches() + " CR3 writes kept translations");
            }
            return m.state;
        }
    }
}
