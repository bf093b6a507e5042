package dev.flint.engine.emu.cpu;

import dev.flint.arch.x86.CpuBootState;
import dev.flint.arch.x86.Segment;
import dev.flint.engine.emu.mmu.CodePages;
import dev.flint.engine.emu.mmu.Mmu;
import dev.flint.engine.emu.mmu.NativeTlb;
import dev.flint.engine.emu.mmu.PhysicalMemory;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.bus.Bus;
import dev.flint.engine.emu.nativecode.CodeCache;
import dev.flint.engine.emu.nativecode.X64Emitter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;

import static dev.flint.engine.emu.nativecode.X64Emitter.*;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Runs the native soft-TLB probe ({@link X64Emitter#tlbLoad}, {@link X64Emitter#tlbStore}) on the host against
 * an {@link Mmu}'s {@link NativeTlb} with 4-level paging on: hits read and write the right RAM bytes; every
 * access the TLB of record would not serve from RAM (not cached, not RAM, another privilege, read-only or clean
 * for a write, a page crossing, a store into decoded code) exits to Java without touching RAM, and Java's access
 * through the {@link Mmu} then refills; flushes, CR3 and PCID switches and privilege changes leave no stale entry.
 */
class NativeTlbProbeTest {
    private static final long PT = 0x5000;
    private static final long RO = 0x10000, USER = 0x11000, CLEAN = 0x12000, MMIO = 0x14000;
    private static final long P = 1, RW = 2, US = 4, A = 0x20, D = 0x40;
    /** The test function's argument block: TLB header, address, value in; result, exit word, flags out. */
    private static final int TLB = 0, ADDR = 8, VALUE = 16, RESULT = 24, EXIT = 32, FLAGS_IN = 40, FLAGS_OUT = 48;
    private static final int HIT = 0, MISS = 1, CODE_PAGE = 2;
    /** The instruction index the probes' exits record (what a translated block's exit would name). */
    private static final int INSN = 7;
    /** CF PF AF ZF SF OF: the arithmetic flags. */
    private static final long ARITH = 0x8D5;

    private SystemTestMachine m;
    private Mmu mmu;
    private NativeTlb tlb;
    private CodeCache cache;
    private final Arena arena = Arena.ofConfined();
    private MemorySegment args;
    private final Map<String, Long> code = new HashMap<>();

    @BeforeEach
    void setUp() {
        assumeTrue(CodeCache.unavailableReason().isEmpty(), () -> CodeCache.unavailableReason().orElseThrow());
        m = SystemTestMachine.stoppingAtFaults();
        m.memory.writeLong(SystemTestMachine.PML4, SystemTestMachine.PDPT | 7);
        m.memory.writeLong(SystemTestMachine.PDPT, SystemTestMachine.PD | 7);
        m.memory.writeLong(SystemTestMachine.PD, PT | 7);
        for (long page = 0; page < 0x30000; page += 0x1000) m.memory.writeLong(PT + page / 0x1000 * 8, page | P | RW | US | A | D);
        m.memory.writeLong(PT + 0x10 * 8, RO | P | US | A | D);          // read-only (CR0.WP is on)
        m.memory.writeLong(PT + 0x11 * 8, USER | P | RW | US | A | D);
        m.memory.writeLong(PT + 0x12 * 8, CLEAN | P | RW | US | A);      // writable, dirty bit clear
        m.memory.writeLong(PT + 0x13 * 8, 0x13000 | P | RW | A | D);     // supervisor only
        m.memory.writeLong(PT + 0x14 * 8, 0x4000_0000L | P | RW | US);   // past the 2 MiB of RAM: MMIO
        m.cpu.boot(new CpuBootState(0, 0, 0, 0, 0, 0, 0x7000, 0, 0x8000, 2,
                Segment.code64(0x08), Segment.data(0x10), Segment.data(0x10), Segment.data(0x10), Segment.data(0x10),
                Segment.data(0x10), Segment.tss(0), Segment.unusable(), 0, 0, 0, 0,
                CpuState.CR0_PE | CpuState.CR0_PG | CpuState.CR0_ET | CpuState.CR0_WP, SystemTestMachine.PML4,
                CpuState.CR4_PAE, CpuState.EFER_LME | CpuState.EFER_LMA | CpuState.EFER_NXE));
        mmu = m.cpu.mmu();
        tlb = mmu.nativeTlb();
        cache = CodeCache.create(256 * 1024);
        args = arena.allocate(64, 8);
    }

    @AfterEach
    void tearDown() {
        if (cache != null) cache.close();
        arena.close();
        if (m != null) m.close();
    }

    /**
     * The function under test, {@code long f(args)}: loads TLB header, address and value into R8, R9, R10, sets
     * the host's arithmetic flags from FLAGS_IN, runs one probe (a load into R10, or a store of R10), then
     * records the flags and the result; its exits record {@code INSN << 8 | reason} and return the reason.
     */
    private long function(boolean store, int size, boolean keepFlags) {
        return code.computeIfAbsent(store + "/" + size + "/" + keepFlags, k -> {
            X64Emitter e = new X64Emitter();
            Label miss = new Label(), codePage = new Label();
            e.load(R8, RDI, TLB);
            e.load(R9, RDI, ADDR);
            e.load(R10, RDI, VALUE);
            e.load(RCX, RDI, FLAGS_IN);
            e.popfqFrom(RCX);
            if (store) {
                e.tlbStore(size, R10, R9, R8, NativeTlb.WRITE_ROW, NativeTlb.CODE_BIAS, NativeTlb.INDEX_MASK, R11, RCX,
                        keepFlags, miss, codePage);
            } else {
                e.tlbLoad(size, R10, R9, R8, NativeTlb.READ_ROW, NativeTlb.INDEX_MASK, R11, RCX, keepFlags, miss);
            }
            e.pushfq();
            e.pop(RCX);
            e.store(RDI, FLAGS_OUT, RCX);
            e.store(RDI, RESULT, R10);
            e.movImm32(RAX, HIT);
            e.ret();
            exit(e, miss, MISS, keepFlags);
            exit(e, codePage, CODE_PAGE, keepFlags);
            return cache.install(e);
        });
    }

    /** An exit stub: the guest's flags back from AX (when kept there), the exit recorded, the reason returned. */
    private static void exit(X64Emitter e, Label at, int reason, boolean keepFlags) {
        e.bind(at);
        if (keepFlags) e.restoreFlagsFromAx();
        e.pushfq();
        e.pop(RCX);
        e.store(RDI, FLAGS_OUT, RCX);
        e.storeImm32(RDI, EXIT, INSN << 8 | reason);
        e.movImm32(RAX, reason);
        e.ret();
    }

    private long run(boolean store, int size, boolean keepFlags, long addr, long value, long flags) {
        long f = function(store, size, keepFlags);
        args.set(JAVA_LONG, TLB, tlb.address());
        args.set(JAVA_LONG, ADDR, addr);
        args.set(JAVA_LONG, VALUE, value);
        args.set(JAVA_LONG, RESULT, -1);
        args.set(JAVA_LONG, EXIT, -1);
        args.set(JAVA_LONG, FLAGS_IN, 0x202 | flags); // IF and the reserved bit 1, as the host runs with them
        long reason = cache.enter(f, args.address());
        long exit = args.get(JAVA_LONG, EXIT);
        if (reason == HIT) assertEquals(-1, exit, "a hit records no exit");
        else assertEquals((long) INSN << 8 | reason, exit, "the exit records the instruction and reason");
        return reason;
    }

    private long load(int size, long addr) { return run(false, size, false, addr, 0, 0); }

    private long store(int size, long addr, long value) { return run(true, size, false, addr, value, 0); }

    private long result() { return args.get(JAVA_LONG, RESULT); }

    @Test
    void hitsReadTheRightRamBytesZeroExtended() {
        m.memory.writeLong(0x20120, 0x8877_6655_4433_2211L);
        mmu.read(0x20000, 8); // fills the read TLB
        assertEquals(HIT, load(8, 0x20120));
        assertEquals(0x8877_6655_4433_2211L, result());
        assertEquals(HIT, load(4, 0x20121));
        assertEquals(0x5544_3322L, result());
        assertEquals(HIT, load(2, 0x20126));
        assertEquals(0x8877L, result());
        assertEquals(HIT, load(1, 0x20127));
        assertEquals(0x88L, result());
    }

    @Test
    void hitsWriteExactlyTheirBytes() {
        mmu.write(0x20000, 8, 0); // a write fills the write TLB (the page is dirty already)
        for (int size : new int[] {1, 2, 4, 8}) {
            m.memory.writeLong(0x20200, -1L);
            m.memory.writeLong(0x20208, -1L);
            assertEquals(HIT, store(size, 0x20201, 0x0102_0304_0506_0708L));
            long mask = size == 8 ? -1L : (1L << (8 * size)) - 1;
            long want = (-1L & ~(mask << 8)) | ((0x0102_0304_0506_0708L & mask) << 8);
            assertEquals(want, m.memory.readLong(0x20200), "size " + size);
            assertEquals(size == 8 ? 0xFFFF_FFFF_FFFF_FF01L : -1L, m.memory.readLong(0x20208), "size " + size);
        }
    }

    @Test
    void aMissExitsUntouchedAndJavaRefillsTheEntry() {
        m.memory.writeLong(0x22010, 0x1234);
        assertEquals(MISS, load(8, 0x22010));
        assertEquals(-1, result(), "the destination is left alone");
        assertEquals(MISS, store(8, 0x22010, 0x5678));
        assertEquals(0x1234, m.memory.readLong(0x22010), "RAM untouched");
        assertEquals(0x1234, mmu.read(0x22010, 8)); // the exit's access, through the Mmu
        assertEquals(HIT, load(8, 0x22010), "the Java access refilled the native view");
        assertEquals(0x1234, result());
        mmu.write(0x22010, 8, 0x1235);
        assertEquals(HIT, store(8, 0x22010, 0x5678));
        assertEquals(0x5678, m.memory.readLong(0x22010));
    }

    @Test
    void aPageThatIsNotRamNeverHits() {
        mmu.read(MMIO, 4); // cached in the Java TLB as not RAM
        mmu.write(MMIO, 4, 0);
        assertEquals(MISS, load(4, MMIO));
        assertEquals(MISS, store(4, MMIO, 1));
    }

    @Test
    void aUserAccessToASupervisorPageExitsAndJavaFaults() {
        m.memory.writeLong(0x13000, 0x2222);
        mmu.read(0x13000, 8);
        mmu.write(0x13000, 8, 0x2222);
        assertEquals(HIT, load(8, 0x13000));
        mmu.setUser(true);
        assertEquals(MISS, load(8, 0x13000), "the supervisor's entry is not the user's");
        assertEquals(MISS, store(8, 0x13000, 0x3333));
        assertEquals(0x2222, m.memory.readLong(0x13000));
        GuestFault f = assertThrows(GuestFault.class, () -> mmu.read(0x13000, 8));
        assertEquals(5, f.errorCode, "present | user");
        mmu.setUser(false);
        assertEquals(HIT, load(8, 0x13000), "back at CPL 0 the entry serves again");
    }

    @Test
    void aWriteToAReadOnlyPageExitsAndJavaFaults() {
        m.memory.writeLong(RO, 0x2222);
        mmu.read(RO, 8);
        assertEquals(HIT, load(8, RO));
        assertEquals(MISS, store(8, RO, 0x3333), "a read entry never serves a write");
        assertEquals(0x2222, m.memory.readLong(RO));
        GuestFault f = assertThrows(GuestFault.class, () -> mmu.write(RO, 8, 0x3333));
        assertEquals(3, f.errorCode, "present | write");
        assertEquals(MISS, store(8, RO, 0x3333));
        assertEquals(0x2222, m.memory.readLong(RO));
    }

    @Test
    void aWriteToACleanPageExitsUntilJavaSetsTheDirtyBit() {
        mmu.read(CLEAN, 8);
        assertEquals(MISS, store(8, CLEAN + 8, 0x77));
        assertEquals(0, m.memory.readLong(CLEAN + 8));
        assertEquals(0, m.memory.readLong(PT + 0x12 * 8) & D, "no native store set the dirty bit");
        mmu.write(CLEAN + 8, 8, 0x66);
        assertEquals(D, m.memory.readLong(PT + 0x12 * 8) & D);
        assertEquals(HIT, store(8, CLEAN + 8, 0x77));
        assertEquals(0x77, m.memory.readLong(CLEAN + 8));
    }

    @Test
    void aStoreIntoDecodedCodeExitsAndJavaBumpsThePageVersion() {
        CodePages pages = mmu.physical().codePages();
        mmu.write(0x23000, 8, 0);
        assertEquals(HIT, store(8, 0x23010, 0x11));
        int version = pages.markCode(0x23000); // a block decoded from the page (host offset = physical here)
        assertEquals(CODE_PAGE, store(8, 0x23010, 0x22));
        assertEquals(0x11, m.memory.readLong(0x23010), "RAM untouched");
        mmu.write(0x23010, 8, 0x22); // the exit's store, through the Mmu
        assertEquals(version + 1, pages.version(0x23000), "Java's store bumped the version");
        assertEquals(HIT, store(8, 0x23010, 0x33), "the page holds no decoded code until a block is decoded again");
        assertEquals(0x33, m.memory.readLong(0x23010));
    }

    @Test
    void aPageCrossingAccessExitsEvenWithBothPagesCached() {
        m.memory.writeLong(0x20ff8, 0x1111_1111_1111_1111L);
        m.memory.writeLong(0x21000, 0x2222_2222_2222_2222L);
        mmu.read(0x20000, 1);
        mmu.read(0x21000, 1);
        mmu.write(0x20000, 1, 0x11);
        mmu.write(0x21000, 1, 0x22);
        assertEquals(HIT, load(8, 0x20ff8));
        assertEquals(HIT, load(1, 0x20fff));
        for (int size : new int[] {2, 4, 8}) {
            assertEquals(MISS, load(size, 0x20fff), "size " + size);
            assertEquals(MISS, store(size, 0x21000 - size + 1, 0), "size " + size);
        }
        assertEquals(0x1111_1111_1111_1111L, m.memory.readLong(0x20ff8));
        assertEquals(0x2222_2222_2222_2222L, m.memory.readLong(0x21000));
        assertEquals(0x2211_1111_1111_1111L, mmu.read(0x20ff9, 8), "Java splits it");
    }

    @Test
    void flushesLeaveNoStaleEntry() {
        mmu.read(0x20000, 8);
        mmu.write(0x20000, 8, 0);
        assertEquals(HIT, load(8, 0x20000));
        mmu.flushPage(0x20000); // INVLPG
        assertEquals(MISS, load(8, 0x20000));
        assertEquals(MISS, store(8, 0x20000, 1));

        mmu.read(0x20000, 8);
        mmu.write(0x20000, 8, 0);
        mmu.flushNonGlobal(); // a CR3 write without PCIDs
        assertEquals(MISS, load(8, 0x20000));
        assertEquals(MISS, store(8, 0x20000, 1));

        mmu.read(0x20000, 8);
        mmu.write(0x20000, 8, 0);
        mmu.flushAll();
        assertEquals(MISS, load(8, 0x20000));
        assertEquals(MISS, store(8, 0x20000, 1));
        assertEquals(0, m.memory.readLong(0x20000));
    }

    @Test
    void aCr3WriteThroughTheCpuDropsTheNativeEntry() {
        m.memory.writeLong(0x11000, 0x1111);
        m.memory.writeLong(0x10000, 0x2222);
        mmu.read(USER, 8);
        assertEquals(HIT, load(8, USER));
        assertEquals(0x1111, result());
        m.memory.writeLong(PT + 0x11 * 8, RO | P | RW | US | A | D); // remap 0x11000 -> 0x10000
        m.load(0x8000, "0f22d8"); // mov cr3, rax
        m.state.gpr[0] = SystemTestMachine.PML4;
        m.state.rip = 0x8000;
        m.cpu.execute(1);
        assertEquals(0x8003, m.state.rip);
        assertEquals(MISS, load(8, USER));
        mmu.read(USER, 8);
        assertEquals(HIT, load(8, USER));
        assertEquals(0x2222, result(), "the new mapping");
    }

    @Test
    void aPcidSwitchShowsThatAddressSpacesEntriesOnly() {
        m.state.cr4 |= CpuState.CR4_PCIDE;
        mmu.flushAll();
        mmu.read(0x20000, 8);
        assertEquals(HIT, load(8, 0x20000));
        mmu.loadPcid(5, true);
        assertEquals(MISS, load(8, 0x20000), "PCID 5 holds nothing yet");
        mmu.read(0x22000, 8);
        assertEquals(HIT, load(8, 0x22000));
        mmu.loadPcid(0, false); // back to PCID 0's kept translations
        assertEquals(HIT, load(8, 0x20000));
        assertEquals(MISS, load(8, 0x22000));
        mmu.loadPcid(5, true); // with a flush: PCID 5's entries go
        assertEquals(MISS, load(8, 0x22000));
    }

    @Test
    void theViewCreatedLateHoldsWhatTheTlbHeldAlready() {
        SystemTestMachine other = SystemTestMachine.stoppingAtFaults();
        try {
            Mmu late = other.cpu.mmu(); // paging off: linear = physical
            late.read(0x20000, 8);
            late.write(0x24000, 8, 0);
            late.setUser(true);
            late.read(0x22000, 8);
            late.setUser(false);
            NativeTlb view = late.nativeTlb();
            tlb = view;
            other.memory.writeLong(0x20008, 0x99);
            assertEquals(HIT, load(8, 0x20008));
            assertEquals(0x99, result());
            assertEquals(HIT, store(8, 0x24008, 0x98));
            assertEquals(0x98, other.memory.readLong(0x24008));
            assertEquals(MISS, load(8, 0x22000), "the user's entry is not the supervisor's");
            late.setUser(true);
            assertEquals(HIT, load(8, 0x22000));
        } finally {
            other.close();
        }
    }

    @Test
    void aCr3WriteDropsTheUserEntryWhoseIndexASupervisorGlobalPageTookSince() {
        // The Java TLB keeps one entry per index (the tag row's, whose global bit decides what a CR3 write keeps):
        // when the supervisor's global page 0x411000 takes index 0x11, the user's entry for 0x11000 must leave
        // the user's native row too, or it would outlive the CR3 write.
        m.state.cr4 |= CpuState.CR4_PGE;
        m.memory.writeLong(SystemTestMachine.PD + 2 * 8, 0x6000 | 7);
        m.memory.writeLong(0x6000 + 0x11 * 8, 0x13000 | P | RW | A | D | 0x100); // 0x411000: supervisor, global
        mmu.setUser(true);
        mmu.read(USER, 8);
        assertEquals(HIT, load(8, USER));
        mmu.setUser(false);
        mmu.read(0x411000, 8);
        assertEquals(HIT, load(8, 0x411000));
        mmu.flushNonGlobal(); // a CR3 write with CR4.PGE on
        assertEquals(HIT, load(8, 0x411000), "the global entry stays");
        mmu.setUser(true);
        assertEquals(MISS, load(8, USER), "the user's entry went with the index");
    }

    @Test
    void noWriteHitsNativelyWhileDirtyPagesAreLogged() {
        try (GuestMemory memory = GuestMemory.allocate(2L << 20)) {
            memory.trackDirtyPages(); // before the Mmu, as an engine is created after it
            Mmu logged = new Mmu(new CpuState(), new PhysicalMemory(memory, new Bus("mmio"), null)); // paging off
            logged.read(0x20000, 8);
            logged.write(0x20000, 8, 0);
            tlb = logged.nativeTlb();
            assertEquals(HIT, load(8, 0x20000), "reads hit");
            assertEquals(MISS, store(8, 0x20000, 5), "a store must mark the log, which only Java's store path does");
            assertEquals(0, memory.readLong(0x20000));
        }
    }

    @Test
    void keptFlagsSurviveHitsAndMisses() {
        mmu.read(0x20000, 8);
        mmu.write(0x20000, 8, 0);
        for (long flags = 0; flags < 64; flags++) {
            long bits = 0;
            int i = 0;
            for (long bit : new long[] {1, 4, 0x10, 0x40, 0x80, 0x800}) if ((flags >>> i++ & 1) != 0) bits |= bit;
            assertEquals(HIT, run(false, 8, true, 0x20000, 0, bits));
            assertEquals(bits, args.get(JAVA_LONG, FLAGS_OUT) & ARITH, "load hit, flags " + bits);
            assertEquals(HIT, run(true, 4, true, 0x20000, 0, bits));
            assertEquals(bits, args.get(JAVA_LONG, FLAGS_OUT) & ARITH, "store hit, flags " + bits);
            assertEquals(MISS, run(false, 8, true, 0x22000, 0, bits));
            assertEquals(bits, args.get(JAVA_LONG, FLAGS_OUT) & ARITH, "miss, flags " + bits);
        }
    }

    @Test
    void theProbeReadsTheEntryFormatTheViewWrites() {
        assertEquals(X64Emitter.TLB_ENTRY_BYTES, NativeTlb.ENTRY_BYTES);
        assertEquals(X64Emitter.TLB_PAGE, NativeTlb.PAGE);
        assertEquals(X64Emitter.TLB_ADDEND, NativeTlb.ADDEND);
    }
}
