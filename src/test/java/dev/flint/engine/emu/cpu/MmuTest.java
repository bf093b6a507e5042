package dev.flint.engine.emu.cpu;

import dev.flint.arch.x86.CpuBootState;
import dev.flint.arch.x86.Segment;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/** 4-level paging with 4 KiB pages: permission checks, page-fault error codes, accessed/dirty bits, TLB flushes. */
class MmuTest {
    private static final long PT = 0x4000 + 0x1000; // after the machine's PD
    private static final long RO = 0x10000, USER = 0x11000, NOEXEC = 0x12000, ABSENT = 0x13000;
    private static final long P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, NX = 1L << 63;

    private SystemTestMachine m;

    @BeforeEach
    void setUp() {
        m = SystemTestMachine.stoppingAtFaults();
        m.memory.writeLong(SystemTestMachine.PML4, SystemTestMachine.PDPT | 7);
        m.memory.writeLong(SystemTestMachine.PDPT, SystemTestMachine.PD | 7);
        m.memory.writeLong(SystemTestMachine.PD, PT | 7);
        for (long page = 0; page < 0x10000; page += 0x1000) m.memory.writeLong(PT + page / 0x1000 * 8, page | P | RW | US);
        m.memory.writeLong(PT + 0x10 * 8, RO | P);
        m.memory.writeLong(PT + 0x11 * 8, USER | P | RW | US);
        m.memory.writeLong(PT + 0x12 * 8, NOEXEC | P | RW | NX);
        m.memory.writeLong(PT + 0x13 * 8, ABSENT);
        m.cpu.boot(new CpuBootState(0, 0, 0, 0, 0, 0, 0x7000, 0, 0x8000, 2,
                Segment.code64(0x08), Segment.data(0x10), Segment.data(0x10), Segment.data(0x10), Segment.data(0x10),
                Segment.data(0x10), Segment.tss(0), Segment.unusable(), 0, 0, 0, 0,
                CpuState.CR0_PE | CpuState.CR0_PG | CpuState.CR0_ET | CpuState.CR0_WP, SystemTestMachine.PML4,
                CpuState.CR4_PAE, CpuState.EFER_LME | CpuState.EFER_LMA | CpuState.EFER_NXE));
    }

    @AfterEach
    void tearDown() { m.close(); }

    /** Runs one instruction at 0x8000; returns the fault or null. */
    private GuestFault exec(String hex) {
        m.load(0x8000, hex);
        m.state.rip = 0x8000;
        int exit = m.cpu.execute(1);
        return exit == Cpu.EXIT_FAULT ? m.cpu.lastFault() : null;
    }

    private long pte(long page) { return m.memory.readLong(PT + page / 0x1000 * 8); }

    @Test
    void readOfAbsentPageFaultsWithCr2() {
        GuestFault f = exec("488b042500300100"); // mov rax, [0x13000]
        assertEquals(GuestFault.PF, f.vector);
        assertEquals(0, f.errorCode);
        assertEquals(ABSENT, m.state.cr2);
        assertEquals(0x8000, m.state.rip, "RIP stays on the faulting instruction");
    }

    @Test
    void writeProtectHonouredInSupervisorModeOnlyWithWp() {
        GuestFault f = exec("4889042500000100"); // mov [0x10000], rax
        assertEquals(GuestFault.PF, f.vector);
        assertEquals(3, f.errorCode, "present | write");
        m.cpu.boot(withCr0(m.state.cr0 & ~CpuState.CR0_WP));
        assertNull(exec("4889042500000100"));
    }

    private CpuBootState withCr0(long cr0) {
        CpuState s = m.state;
        return new CpuBootState(0, 0, 0, 0, 0, 0, 0x7000, 0, 0x8000, 2,
                Segment.code64(0x08), Segment.data(0x10), Segment.data(0x10), Segment.data(0x10), Segment.data(0x10),
                Segment.data(0x10), Segment.tss(0), Segment.unusable(), 0, 0, 0, 0, cr0, s.cr3, s.cr4, s.efer);
    }

    @Test
    void accessedAndDirtyBits() {
        assertEquals(0, pte(USER) & (A | D));
        assertNull(exec("488b042500100100")); // mov rax, [0x11000]
        assertEquals(A, pte(USER) & (A | D), "a read sets only the accessed bit");
        assertNull(exec("4889042500100100")); // mov [0x11000], rax
        assertEquals(A | D, pte(USER) & (A | D), "a write sets dirty");
    }

    @Test
    void noExecutePage() {
        GuestFault f = exec("b800200100ffe0"); // mov eax, 0x12000; jmp rax
        assertNull(f);
        assertEquals(Cpu.EXIT_BUDGET, m.cpu.execute(1), "the jump itself does not fetch the target");
        f = m.cpu.execute(1) == Cpu.EXIT_FAULT ? m.cpu.lastFault() : null;
        assertNotNull(f, "jumping into an NX page faults on the fetch");
        assertEquals(0x11, f.errorCode, "present | instruction fetch");
        assertEquals(NOEXEC, m.state.cr2);
    }

    @Test
    void userModeCannotTouchSupervisorPages() {
        m.state.cpl = 3;
        m.cpu.modeChanged();
        GuestFault f = exec("488b042500000100"); // mov rax, [0x10000]
        assertEquals(5, f.errorCode, "present | user");
        assertNull(exec("488b042500100100"), "user page is fine");
    }

    @Test
    void aSupervisorTranslationInTheTlbIsNeverUsedByUserModeAccesses() {
        // The TLB's fast rows are per privilege and compare the bare page number: the supervisor's cached
        // entry for 0x10000 must not be a hit for CPL 3, which must fault as if nothing were cached, and
        // the supervisor's entry must still serve CPL 0 afterwards.
        m.memory.writeLong(0x10000, 0x2222);
        assertNull(exec("488b042500000100")); // mov rax, [0x10000] at CPL 0: now cached
        assertEquals(0x2222, m.state.gpr[0]);
        m.state.cpl = 3;
        m.cpu.modeChanged();
        m.state.gpr[0] = 0;
        GuestFault f = exec("488b042500000100");
        assertNotNull(f, "CPL 3 may not read a supervisor page, even one the TLB holds");
        assertEquals(5, f.errorCode, "present | user");
        assertEquals(0, m.state.gpr[0]);
        f = exec("4889042500000100"); // mov [0x10000], rax
        assertNotNull(f, "nor write it");
        assertEquals(7, f.errorCode, "present | write | user");
        m.state.cpl = 0;
        m.cpu.modeChanged();
        assertNull(exec("488b042500000100"));
        assertEquals(0x2222, m.state.gpr[0]);
    }

    @Test
    void aCr3WriteDropsAUserTranslationWhoseIndexASupervisorGlobalPageTookSince() {
        // With CR4.PGE a CR3 write keeps global translations. The user page 0x11000 and the supervisor's
        // global page 0x411000 share a TLB index: once the global page took the index, the user page's
        // translation must not survive the CR3 write through the per-privilege fast rows (it did, and Linux's
        // init then ran on the previous process's pages: a segfault at boot).
        m.state.cr4 |= CpuState.CR4_PGE;
        long pt2 = 0x6000;
        m.memory.writeLong(SystemTestMachine.PD + 2 * 8, pt2 | 7);
        m.memory.writeLong(pt2 + 0x11 * 8, NOEXEC | P | RW | 0x100); // 0x411000: supervisor, global
        m.memory.writeLong(0x11000, 0x1111);
        m.memory.writeLong(0x10000, 0x2222);
        m.state.cpl = 3;
        m.cpu.modeChanged();
        assertNull(exec("488b042500100100")); // mov rax, [0x11000] at CPL 3
        assertEquals(0x1111, m.state.gpr[0]);
        m.state.cpl = 0;
        m.cpu.modeChanged();
        assertNull(exec("488b042500104100")); // mov rax, [0x411000]: the global page takes the index
        m.memory.writeLong(PT + 0x11 * 8, RO | P | RW | US); // 0x11000 -> 0x10000, as in the next process
        m.state.gpr[0] = SystemTestMachine.PML4;
        assertNull(exec("0f22d8")); // mov cr3, rax
        m.state.cpl = 3;
        m.cpu.modeChanged();
        assertNull(exec("488b042500100100"));
        assertEquals(0x2222, m.state.gpr[0], "the new mapping after the CR3 write");
    }

    @Test
    void invlpgAndCr3ReloadDropStaleTranslations() {
        m.memory.writeLong(0x11000, 0x1111);
        m.memory.writeLong(0x10000, 0x2222);
        assertNull(exec("488b042500100100"));
        assertEquals(0x1111, m.state.gpr[0]);
        m.memory.writeLong(PT + 0x11 * 8, RO | P | RW | US); // remap 0x11000 → 0x10000
        assertNull(exec("488b042500100100"));
        assertEquals(0x1111, m.state.gpr[0], "the TLB still holds the old translation");
        assertNull(exec("0f013c2500100100")); // invlpg [0x11000]
        assertNull(exec("488b042500100100"));
        assertEquals(0x2222, m.state.gpr[0]);
        m.memory.writeLong(PT + 0x11 * 8, USER | P | RW | US);
        m.state.gpr[0] = SystemTestMachine.PML4;
        assertNull(exec("0f22d8")); // mov cr3, rax
        assertNull(exec("488b042500100100"));
        assertEquals(0x1111, m.state.gpr[0]);
    }

    @Test
    void selfModifyingCodeSeesTheNewBytes() {
        // mov byte ptr [rip+1], 0x90 rewrites the next instruction (int3 → nop) before it runs.
        m.load(0x8000, "c605000000009" + "0" + "cc");
        m.state.rip = 0x8000;
        m.cpu.execute(2);
        assertNull(m.cpu.lastFault());
        assertEquals(0x8008, m.state.rip);
    }
}
