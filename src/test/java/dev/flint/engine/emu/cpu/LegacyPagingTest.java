package dev.flint.engine.emu.cpu;

import dev.flint.arch.x86.CpuBootState;
import dev.flint.arch.x86.Segment;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * The 32-bit paging modes CPUID's PSE and PAE bits promise, in 32-bit protected mode: legacy 2-level
 * paging with 4-byte entries (4 KiB pages, 4 MiB pages under CR4.PSE) and PAE paging (a 4-entry PDPT,
 * 8-byte entries, 2 MiB pages): translations, accessed/dirty bits, write protection and faults.
 */
class LegacyPagingTest {
    private static final long ROOT = 0x20000, TABLE2 = 0x21000, TABLE3 = 0x22000;
    private static final long P = 1, RW = 2, A = 0x20, D = 0x40, PS = 0x80;
    /** Code at 0x8000, stack below 0x7000; data pages 0x10000 (writable) and 0x11000 (read-only). */
    private static final long DATA = 0x10000, READ_ONLY = 0x11000, ABSENT = 0x12000;

    private SystemTestMachine m;

    @AfterEach
    void tearDown() { if (m != null) m.close(); }

    private void boot(long cr3, long cr4) {
        m.cpu.boot(new CpuBootState(0, 0, 0, 0, 0, 0, 0x7000, 0, 0x8000, 2,
                Segment.code32(0x08), Segment.data(0x10), Segment.data(0x10), Segment.data(0x10), Segment.data(0x10),
                Segment.data(0x10), Segment.tss(0), Segment.unusable(), 0, 0, 0, 0,
                CpuState.CR0_PE | CpuState.CR0_PG | CpuState.CR0_ET | CpuState.CR0_WP, cr3, cr4, 0));
    }

    /** Runs one instruction at 0x8000; returns the fault or null. */
    private GuestFault exec(String hex) {
        m.load(0x8000, hex);
        m.state.rip = 0x8000;
        return m.cpu.execute(1) == Cpu.EXIT_FAULT ? m.cpu.lastFault() : null;
    }

    /** Legacy paging: PD at ROOT, one page table at TABLE2 mapping the low 64 KiB 1:1 plus the data pages. */
    private void legacyTables() {
        m = SystemTestMachine.stoppingAtFaults();
        m.memory.writeInt(ROOT, (int) (TABLE2 | P | RW));
        for (long page = 0; page < 0x10000; page += 0x1000) m.memory.writeInt(TABLE2 + page / 0x1000 * 4, (int) (page | P | RW));
        m.memory.writeInt(TABLE2 + 0x10 * 4, (int) (DATA | P | RW));
        m.memory.writeInt(TABLE2 + 0x11 * 4, (int) (READ_ONLY | P));
        m.memory.writeInt(TABLE2 + 0x13 * 4, 0x7777_7000); // a neighbour entry that must stay as it is
        // PDE 3: a 4 MiB page at physical 0 (linear 0xC00000 + x -> x), honoured only with CR4.PSE.
        m.memory.writeInt(ROOT + 3 * 4, (int) (P | RW | PS));
    }

    @Test
    void legacyPagingTranslatesSetsAccessedAndDirtyAndLeavesNeighboursAlone() {
        legacyTables();
        boot(ROOT, 0);
        m.memory.writeInt(DATA + 0x40, 0x1234_5678);
        assertNull(exec("8b0540000100")); // mov eax, [0x10040]
        assertEquals(0x1234_5678L, m.state.gpr[0]);
        assertEquals(A, m.memory.readInt(TABLE2 + 0x10 * 4) & (A | D), "read: accessed, not dirty");
        assertNull(exec("891d44000100")); // mov [0x10044], ebx
        assertEquals(A | D, m.memory.readInt(TABLE2 + 0x10 * 4) & (A | D), "write: dirty");
        assertEquals(A, m.memory.readInt(ROOT) & A, "the directory entry is accessed too");
        assertEquals(0x7777_7000, m.memory.readInt(TABLE2 + 0x13 * 4), "the entry next to a swapped one");
        assertEquals(READ_ONLY | P, m.memory.readInt(TABLE2 + 0x11 * 4) & 0xFFFF_FFFFL, "untouched entry");
    }

    @Test
    void legacyPagingFaultsOnAbsentAndReadOnlyPages() {
        legacyTables();
        boot(ROOT, 0);
        GuestFault absent = exec("8b0500200100"); // mov eax, [0x12000]
        assertNotNull(absent);
        assertEquals(GuestFault.PF, absent.vector);
        assertEquals(0, absent.errorCode);
        assertEquals(ABSENT, m.state.cr2);
        GuestFault readOnly = exec("891d00100100"); // mov [0x11000], ebx
        assertNotNull(readOnly);
        assertEquals(3, readOnly.errorCode, "present | write");
    }

    @Test
    void fourMegabytePagesOnlyWithPse() {
        legacyTables();
        m.memory.writeInt(0x3000, 0xCAFE_F00D);
        boot(ROOT, CpuState.CR4_PSE);
        assertNull(exec("8b050030c000")); // mov eax, [0xC03000] -> physical 0x3000
        assertEquals(0xCAFE_F00DL, m.state.gpr[0]);
        assertEquals(A, m.memory.readInt(ROOT + 3 * 4) & A);

        // Without PSE the PS bit is ignored: the entry points to a page table at physical 0.
        boot(ROOT, 0);
        m.memory.writeInt(0x3 * 4, (int) (0x5000 | P)); // that "table"'s entry 3 -> physical 0x5000
        m.memory.writeInt(0x5000, 0x0BAD_CAFE);
        assertNull(exec("8b050030c000"));
        assertEquals(0x0BAD_CAFEL, m.state.gpr[0]);
    }

    /** PAE: PDPT at ROOT, PDPTE 0 -> PD at TABLE2 -> PT at TABLE3 (low 64 KiB 1:1 and the data pages);
     *  PDE 1 a 2 MiB page at physical 0 (linear 0x200000 + x -> x); PDPTE 1 not present. */
    private void paeTables() {
        m = SystemTestMachine.stoppingAtFaults();
        m.memory.writeLong(ROOT, TABLE2 | P);
        m.memory.writeLong(TABLE2, TABLE3 | P | RW);
        m.memory.writeLong(TABLE2 + 8, P | RW | PS);
        for (long page = 0; page < 0x10000; page += 0x1000) m.memory.writeLong(TABLE3 + page / 0x1000 * 8, page | P | RW);
        m.memory.writeLong(TABLE3 + 0x10 * 8, DATA | P | RW);
        m.memory.writeLong(TABLE3 + 0x11 * 8, READ_ONLY | P);
    }

    @Test
    void paePagingTranslatesFourKilobyteAndTwoMegabytePages() {
        paeTables();
        boot(ROOT, CpuState.CR4_PAE);
        m.memory.writeInt(DATA + 8, 0x0102_0304);
        assertNull(exec("8b0508000100")); // mov eax, [0x10008]
        assertEquals(0x0102_0304L, m.state.gpr[0]);
        assertNull(exec("891d0c000100")); // mov [0x1000c], ebx
        assertEquals(A | D, m.memory.readLong(TABLE3 + 0x10 * 8) & (A | D));
        assertEquals(0, m.memory.readLong(ROOT) & A, "PDPTEs have no accessed bit to set");

        m.memory.writeInt(0x3000, 0x5EED_5EED);
        assertNull(exec("8b0500302000")); // mov eax, [0x203000] -> physical 0x3000 through the 2 MiB page
        assertEquals(0x5EED_5EEDL, m.state.gpr[0]);
        GuestFault readOnly = exec("891d00100100"); // mov [0x11000], ebx
        assertNotNull(readOnly);
        assertEquals(3, readOnly.errorCode);
    }

    @Test
    void paeFaultsOnANotPresentPdpte() {
        paeTables();
        boot(ROOT, CpuState.CR4_PAE);
        GuestFault f = exec("8b0500000040"); // mov eax, [0x40000000]: PDPTE 1
        assertNotNull(f);
        assertEquals(GuestFault.PF, f.vector);
        assertEquals(0, f.errorCode);
        assertEquals(0x4000_0000L, m.state.cr2);
    }
}
