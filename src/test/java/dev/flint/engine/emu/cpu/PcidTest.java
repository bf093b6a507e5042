package dev.flint.engine.emu.cpu;

import dev.flint.arch.x86.CpuBootState;
import dev.flint.arch.x86.Segment;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Process-context identifiers (CPUID.01H:ECX.PCID): CR4.PCIDE, the PCID in CR3's low 12 bits, and bit 63 of a
 * CR3 write, which keeps the translations cached for that PCID instead of flushing them. Each PCID has its own
 * TLB; INVLPG and CR4 writes drop translations as the SDM requires.
 *
 * <p>The data page at linear {@link #DATA} maps physical {@link #OLD} (holding 0x11) until a test points its
 * PTE at {@link #NEW} (holding 0x22) without telling the TLB: a read then shows whether a translation cached
 * before the change was used (0x11) or the tables were walked again (0x22).
 */
class PcidTest {
    private static final long PT = 0x5000, DATA = 0x20000, OLD = 0x30000, NEW = 0x31000;
    private static final long P = 1, RW = 2, G = 0x100, NO_FLUSH = 1L << 63;
    private static final String READ_DATA = "488b042500000200"; // mov rax, [0x20000]
    private static final String WRITE_CR3 = "0f22db", WRITE_CR4 = "0f22e3", READ_CR3 = "0f20d8"; // rbx; rax <- cr3

    private SystemTestMachine m;

    @BeforeEach
    void setUp() {
        m = SystemTestMachine.stoppingAtFaults();
        m.memory.writeLong(SystemTestMachine.PML4, SystemTestMachine.PDPT | 3);
        m.memory.writeLong(SystemTestMachine.PDPT, SystemTestMachine.PD | 3);
        m.memory.writeLong(SystemTestMachine.PD, PT | 3);
        for (long page = 0; page < 0x40000; page += 0x1000) m.memory.writeLong(PT + page / 0x1000 * 8, page | P | RW);
        mapData(OLD, 0);
        m.memory.writeLong(OLD, 0x11);
        m.memory.writeLong(NEW, 0x22);
        m.cpu.boot(new CpuBootState(0, 0, 0, 0, 0, 0, 0x7000, 0, 0x8000, 2,
                Segment.code64(0x08), Segment.data(0x10), Segment.data(0x10), Segment.data(0x10), Segment.data(0x10),
                Segment.data(0x10), Segment.tss(0), Segment.unusable(), 0, 0, 0, 0,
                CpuState.CR0_PE | CpuState.CR0_PG | CpuState.CR0_ET | CpuState.CR0_WP, SystemTestMachine.PML4,
                CpuState.CR4_PAE | CpuState.CR4_PGE, CpuState.EFER_LME | CpuState.EFER_LMA));
    }

    @AfterEach
    void tearDown() { m.close(); }

    /** Runs one instruction at 0x8000 with RBX = {@code rbx}; returns the fault or null. */
    private GuestFault exec(String hex, long rbx) {
        m.load(0x8000, hex);
        m.state.rip = 0x8000;
        m.state.gpr[CpuState.RBX] = rbx;
        int exit = m.cpu.execute(1);
        return exit == Cpu.EXIT_FAULT ? m.cpu.lastFault() : null;
    }

    private void ok(String hex, long rbx) { assertNull(exec(hex, rbx), hex); }

    private long readData() {
        ok(READ_DATA, 0);
        return m.state.gpr[CpuState.RAX];
    }

    private void mapData(long phys, long flags) { m.memory.writeLong(PT + DATA / 0x1000 * 8, phys | P | RW | flags); }

    private void enablePcid() { ok(WRITE_CR4, m.state.cr4 | CpuState.CR4_PCIDE); }

    @Test
    void cpuidOffersPcidAndCr4TakesItOnlyInLongModeWithPcidZero() {
        int[] out = new int[4];
        Cpuid.query(1, 0, 0, 1, out);
        assertTrue((out[2] & 1 << 17) != 0, "CPUID.01H:ECX.PCID");
        ok(WRITE_CR3, SystemTestMachine.PML4 | 0x18); // PWT and PCD: CR3's low 12 bits are not zero
        GuestFault f = exec(WRITE_CR4, m.state.cr4 | CpuState.CR4_PCIDE);
        assertEquals(GuestFault.GP, f == null ? -1 : f.vector, "PCIDE with CR3[11:0] != 0");
        ok(WRITE_CR3, SystemTestMachine.PML4);
        enablePcid();
        ok(WRITE_CR3, SystemTestMachine.PML4 | 5 | NO_FLUSH);
        ok(READ_CR3, 0);
        assertEquals(SystemTestMachine.PML4 | 5, m.state.gpr[CpuState.RAX], "CR3 holds the PCID; bit 63 is not stored");
        f = exec("0f22c3", m.state.cr0 & ~CpuState.CR0_PG); // mov cr0, rbx
        assertEquals(GuestFault.GP, f == null ? -1 : f.vector, "clearing CR0.PG with PCIDE on");
    }

    @Test
    void aNoFlushCr3WriteKeepsThePcidsTranslationsAndAFlushingOneDropsThem() {
        enablePcid();
        ok(WRITE_CR3, SystemTestMachine.PML4 | 1);
        assertEquals(0x11, readData(), "PCID 1 caches the old mapping");
        mapData(NEW, 0);
        ok(WRITE_CR3, SystemTestMachine.PML4 | 2);
        assertEquals(0x22, readData(), "PCID 2 has nothing cached: it walks the changed tables");
        ok(WRITE_CR3, SystemTestMachine.PML4 | 1 | NO_FLUSH);
        assertEquals(0x11, readData(), "back to PCID 1 without a flush: its cached translation is used");
        ok(WRITE_CR3, SystemTestMachine.PML4 | 2 | NO_FLUSH);
        assertEquals(0x22, readData(), "PCID 2's own translation");
        ok(WRITE_CR3, SystemTestMachine.PML4 | 1);
        assertEquals(0x22, readData(), "a CR3 write with bit 63 clear flushes PCID 1");
    }

    @Test
    void withoutPcideEveryCr3WriteFlushes() {
        assertEquals(0x11, readData());
        mapData(NEW, 0);
        ok(WRITE_CR3, SystemTestMachine.PML4 | NO_FLUSH);
        assertEquals(0x22, readData(), "bit 63 means nothing while CR4.PCIDE is off");
    }

    @Test
    void invlpgDropsAGlobalTranslationCachedUnderAnotherPcid() {
        mapData(OLD, G);
        enablePcid();
        ok(WRITE_CR3, SystemTestMachine.PML4 | 1);
        assertEquals(0x11, readData());
        ok(WRITE_CR3, SystemTestMachine.PML4 | 2);
        mapData(NEW, G);
        ok("0f013c2500000200", 0); // invlpg [0x20000], under PCID 2
        ok(WRITE_CR3, SystemTestMachine.PML4 | 1 | NO_FLUSH);
        assertEquals(0x22, readData(), "INVLPG drops global translations of the page whatever their PCID");
    }

    @Test
    void aGlobalTranslationSurvivesAFlushingCr3WriteUntilCr4PgeIsToggled() {
        mapData(OLD, G);
        enablePcid();
        ok(WRITE_CR3, SystemTestMachine.PML4 | 1);
        assertEquals(0x11, readData());
        mapData(NEW, G);
        ok(WRITE_CR3, SystemTestMachine.PML4 | 1);
        assertEquals(0x11, readData(), "a flushing CR3 write keeps global translations (CR4.PGE on)");
        ok(WRITE_CR4, m.state.cr4 & ~CpuState.CR4_PGE); // Linux's global flush without INVPCID
        ok(WRITE_CR4, m.state.cr4 | CpuState.CR4_PGE);
        assertEquals(0x22, readData(), "a CR4 write drops every translation");
    }

    @Test
    void cr4WritesDropTheTranslationsOfEveryPcid() {
        enablePcid();
        ok(WRITE_CR3, SystemTestMachine.PML4 | 1);
        assertEquals(0x11, readData());
        ok(WRITE_CR3, SystemTestMachine.PML4 | 2);
        mapData(NEW, 0);
        ok(WRITE_CR4, m.state.cr4 & ~CpuState.CR4_PGE);
        ok(WRITE_CR4, m.state.cr4 | CpuState.CR4_PGE);
        ok(WRITE_CR3, SystemTestMachine.PML4 | 1 | NO_FLUSH);
        assertEquals(0x22, readData(), "PCID 1's translations went with the CR4 write");
    }

    @Test
    void theLeastRecentlyUsedPcidLosesItsTranslationsToANewOne() {
        enablePcid();
        ok(WRITE_CR3, SystemTestMachine.PML4 | 1);
        assertEquals(0x11, readData());
        mapData(NEW, 0);
        for (int pcid = 2; pcid <= 8; pcid++) ok(WRITE_CR3, SystemTestMachine.PML4 | pcid);
        ok(WRITE_CR3, SystemTestMachine.PML4 | 1 | NO_FLUSH);
        assertEquals(0x11, readData(), "eight PCIDs keep their translations");
        for (int pcid = 2; pcid <= 9; pcid++) ok(WRITE_CR3, SystemTestMachine.PML4 | pcid | NO_FLUSH);
        ok(WRITE_CR3, SystemTestMachine.PML4 | 1 | NO_FLUSH);
        assertNotEquals(0x11, readData(), "a ninth took the least recently used one's place");
    }
}
