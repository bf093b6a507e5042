package dev.flint.engine.emu.cpu;

import dev.flint.arch.x86.CpuBootState;
import dev.flint.arch.x86.Segment;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Exceptions and privilege changes in long mode: a page fault (CR2, error code, handler changes the
 * return RIP), INT n, IRETQ to CPL 3, SYSCALL/SYSRET, and a #GP from HLT at CPL 3 taken on the TSS
 * RSP0 stack; then a triple fault when the IDT is unusable.
 */
class LongModeSystemTest {
    /** lm.s assembled at 0x8000; labels: after_pf 0x800f, user 0x8029, pf_handler 0x803a,
     *  int80_handler 0x804d, gp_handler 0x8056, syscall_entry 0x8060. */
    private static final String PROGRAM = "48c7c400700000488b042500000040cd806a1b680060000068020200006a23488d0503000000"
            + "5048cf49c7c5330000000f0549c7c744000000f4410f20d041594c8d1dc8ffffff4c891c2448cf49c7c48000000048cf5d488b"
            + "5c24084889e2f44989ce480f07";

    private static SystemTestMachine machine() { return machine(false); }

    /** The machine; with {@code stopAtFaults} its CPU stops at a guest fault instead of delivering it. */
    private static SystemTestMachine machine(boolean stopAtFaults) {
        SystemTestMachine m = stopAtFaults ? SystemTestMachine.stoppingAtFaults() : new SystemTestMachine();
        m.identityMap();
        m.load(0x8000, PROGRAM);
        long[] gdt = {0, Segment.code64(0x08).toGdtEntry(), Segment.data(0x10).toGdtEntry(),
                Segment.data(0x18).toGdtEntry() | (3L << 45), Segment.code64(0x20).toGdtEntry() | (3L << 45)};
        for (int i = 0; i < gdt.length; i++) m.memory.writeLong(SystemTestMachine.GDT + 8L * i, gdt[i]);
        m.memory.writeLong(SystemTestMachine.TSS + 4, 0x7800); // RSP0
        m.gate64(14, 0x803a, 0);
        m.gate64(0x80, 0x804d, 3);
        m.gate64(13, 0x8056, 0);
        m.cpu.boot(new CpuBootState(0, 0, 0, 0, 0, 0, 0, 0, 0x8000, 2,
                Segment.code64(0x08), Segment.data(0x10), Segment.data(0x10), Segment.data(0x10), Segment.data(0x10),
                Segment.data(0x10), new Segment(0, SystemTestMachine.TSS, 0x67, 0xB, true, 0, false, false, false, false),
                Segment.unusable(), SystemTestMachine.GDT, 5 * 8 - 1, SystemTestMachine.IDT, 256 * 16 - 1,
                CpuState.CR0_PE | CpuState.CR0_PG | CpuState.CR0_ET | CpuState.CR0_WP, SystemTestMachine.PML4,
                CpuState.CR4_PAE, CpuState.EFER_LME | CpuState.EFER_LMA | CpuState.EFER_SCE));
        m.state.star = (0x10L << 48) | (0x08L << 32);
        m.state.lstar = 0x8060;
        return m;
    }

    /** Runs one instruction at 0x9000 on a machine stopping at faults; returns the fault (null if none). */
    private static GuestFault step(SystemTestMachine m, String hex) {
        m.load(0x9000, hex);
        m.state.rip = 0x9000;
        return m.cpu.execute(1) == Cpu.EXIT_FAULT ? m.cpu.lastFault() : null;
    }

    @Test
    void taskSwitchesTheCpuDoesNotImplementAreAGeneralProtectionFaultForTheGuest() {
        try (SystemTestMachine m = machine(true)) {
            m.state.gpr[CpuState.RSP] = 0x7000;
            m.state.flags.system |= Flags.NT;
            GuestFault iret = step(m, "48cf"); // IRETQ with NT: no task return in long mode
            assertEquals(GuestFault.GP, iret.vector);
            assertEquals(0, iret.errorCode);

            m.state.flags.system &= ~Flags.NT;
            m.memory.writeLong(SystemTestMachine.IDT + 0x81 * 16, (5L << 40) | (3L << 45) | (1L << 47)); // task gate
            // INT 0x81 through it: the #GP is delivered while delivering the interrupt, so the guest's
            // #GP handler (0x8056) runs with the IDT entry's error code on its stack.
            step(m, "cd81");
            assertEquals(0x8056, m.state.rip, "in the #GP handler");
            assertEquals(0x81 * 8 + 2, m.memory.readLong(m.state.gpr[CpuState.RSP]), "the IDT entry's error code");
        }
    }

    @Test
    void faultsInterruptsAndPrivilegeChanges() {
        try (SystemTestMachine m = machine()) {
            m.runToHalt(1000);
            long[] r = m.state.gpr;
            assertTrue(m.cpu.halted());
            assertEquals(0x4000_0000L, r[8], "CR2 of the page fault");
            assertEquals(0, r[9], "error code: not present, read, supervisor");
            assertEquals(0x80, r[12], "INT 0x80 handler ran and returned");
            assertEquals(0x33, r[13], "reached CPL 3 through IRETQ");
            assertEquals(0x8032, r[14], "SYSCALL saved the return RIP in RCX");
            assertEquals(0x44, r[15], "SYSRET returned to user mode");
            assertEquals(0, r[CpuState.RBP], "#GP error code of HLT at CPL 3");
            assertEquals(0x23, r[CpuState.RBX], "#GP frame holds the user CS");
            assertEquals(0x7800 - 5 * 8, r[CpuState.RDX], "#GP taken on the TSS RSP0 stack (aligned, no error code left)");
            assertEquals(0, m.state.cpl);
        }
    }

    @Test
    void unusableIdtTripleFaults() {
        try (SystemTestMachine m = machine()) {
            m.state.idtLimit = 0; // every delivery fails: #PF → #DF → triple fault
            assertThrows(TripleFault.class, () -> m.runToHalt(100));
        }
    }
}
