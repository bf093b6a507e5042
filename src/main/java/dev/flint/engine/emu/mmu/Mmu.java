package dev.flint.engine.emu.mmu;

import dev.flint.engine.emu.cpu.CpuState;
import dev.flint.engine.emu.cpu.GuestFault;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.lang.foreign.ValueLayout;

/**
 * Linear-address translation with a software TLB. Each access kind (read, write, execute) has its own
 * direct-mapped TLB whose entries map a guest-virtual page straight to an offset in the RAM segment, so
 * a hit costs one compare and one segment access and allocates nothing. The tag includes the user bit,
 * so supervisor and user lookups never share an entry and permission checks happen only on a miss.
 *
 * <p>A write entry is only created by a write (which sets the dirty bit in the guest's page table), so a
 * later write through a read-only or clean mapping always takes the slow path. Pages that are not RAM
 * (MMIO, the local APIC) get a TLB entry with host offset -1 and go through {@link PhysicalMemory}.
 *
 * <p>Paging modes: none (linear = physical), 4-level long-mode paging (4 KiB, 2 MiB and 1 GiB pages),
 * and the two 32-bit ones CPUID's PAE and PSE bits promise: PAE paging (a 4-entry PDPT, 4 KiB and 2 MiB
 * pages, NX) and legacy 2-level paging (4-byte entries, 4 MiB pages with CR4.PSE). All with global
 * pages, WP, U/S and accessed/dirty bits. PAE's PDPTEs are read at each walk rather than cached at the
 * CR3 load as hardware does; PSE-36's high address bits are not offered (no PSE36 in CPUID).
 */
public final class Mmu {
    public static final int READ = 0, WRITE = 1, EXEC = 2;
    /** Entries per TLB row (direct-mapped: the index is bits 12.. of the linear address). */
    public static final int TLB_ENTRIES = 1024;
    private static final int ENTRIES = TLB_ENTRIES, MASK = ENTRIES - 1;
    private static final long ADDR_MASK = 0x000F_FFFF_FFFF_F000L;
    private static final long P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80, G = 0x100, NX = 1L << 63;
    private static final VarHandle CAS_INT = ValueLayout.JAVA_INT.varHandle();
    private static final VarHandle CAS_LONG = ValueLayout.JAVA_LONG.varHandle();
    /** Serialises locked accesses that cannot be done with one host CAS (split across words or pages). */
    private static final Object SPLIT_LOCK = new Object();

    private final CpuState cpu;
    private final PhysicalMemory phys;
    private final MemorySegment ram;

    /**
     * The TLB of one address space (one PCID while CR4.PCIDE is on; the only one in use while it is off):
     * per access kind, tag, host offset, physical page and global bit of each entry.
     */
    private static final class AddressSpace {
        /** Its place in {@link #spaces}, and in the native copy's rows. */
        final int index;
        /** The native copy of the fast rows ({@link NativeTlb}), once someone asked for it; else null. */
        NativeTlb nat;
        final long[][] tag = new long[3][ENTRIES];
        final long[][] host = new long[3][ENTRIES];
        final long[][] physPage = new long[3][ENTRIES];
        final boolean[][] global = new boolean[3][ENTRIES];
        /**
         * The data accesses' fast rows, per privilege (supervisor, user) and access (READ, WRITE): per entry
         * its page number at {@code 2 * idx} and its host offset at {@code 2 * idx + 1}, so a hit reads one
         * array (one bounds check, one cache line) and compares the bare page number (the privilege is the
         * row's: no user bit to merge in). An entry of a page that is not RAM has -1 there, never a page
         * number, so a hit needs no {@code host >= 0} test. The tag, host and physPage rows above stay the
         * TLB of record; these mirror them: at each idx at most one privilege's row holds an entry, the one
         * the tag row holds (whose global bit decides whether a CR3 write keeps it). Once native code asked for
         * them ({@link #nativeTlb()}), every write here is also made to the off-heap copy ({@link #nat}).
         */
        final long[][][] fast = new long[2][2][2 * ENTRIES];
        /** The PCID whose translations this holds, or -1 when it holds none. */
        int pcid = -1;
        /** The {@link #generation} while this is the current one; a fresh value whenever entries are dropped. */
        int generation;
        /** When it was last made current, for choosing which one a new PCID replaces. */
        long lastUse;

        AddressSpace(int index) { this.index = index; }

        void clear() {
            for (int k = 0; k < 3; k++) java.util.Arrays.fill(tag[k], -1L);
            for (long[][] rows : fast) {
                for (long[] f : rows) java.util.Arrays.fill(f, -1L);
            }
            if (nat != null) nat.clear(index);
        }

        /** Drops entry {@code idx} of every access kind. */
        void drop(int idx) {
            for (int k = 0; k < 3; k++) tag[k][idx] = -1;
            for (long[][] rows : fast) {
                for (long[] f : rows) f[2 * idx] = -1;
            }
            if (nat != null) {
                for (int u = 0; u < 2; u++) {
                    nat.drop(index, u, READ, idx);
                    nat.drop(index, u, WRITE, idx);
                }
            }
        }

        /** Drops all but global translations ({@code keepGlobal}) or all of them. */
        void clearNonGlobal(boolean keepGlobal) {
            for (int k = 0; k < 3; k++) {
                long[] t = tag[k];
                boolean[] g = global[k];
                for (int i = 0; i < ENTRIES; i++) {
                    if (!keepGlobal || !g[i]) {
                        t[i] = -1;
                        if (k != EXEC) {
                            fast[0][k][2 * i] = -1;
                            fast[1][k][2 * i] = -1;
                            if (nat != null) {
                                nat.drop(index, 0, k, i);
                                nat.drop(index, 1, k, i);
                            }
                        }
                    }
                }
            }
        }
    }

    /**
     * How many PCIDs keep their translations at once. Linux uses at most six per CPU (its dynamic ASIDs) and
     * switches among them without flushing; a seventh evicts the least recently used one here.
     */
    static final int ADDRESS_SPACES = 8;
    private final AddressSpace[] spaces = new AddressSpace[ADDRESS_SPACES];
    private AddressSpace current;
    private long switches;
    /** The off-heap copy of the fast rows for native code, created on first {@link #nativeTlb()}; else null. */
    private NativeTlb nativeTlb;

    // The current address space's rows, held directly so a hit costs no extra indirection.
    private long[][] tag, host, physPage;
    private boolean[][] global;
    /** The current address space's fast rows for reads and writes at the current privilege ({@link AddressSpace#fast}). */
    private long[] readFast, writeFast;

    /** 1 when the current access is a user-mode access (CPL 3), else 0; part of every TLB tag. */
    private long userBit;
    /**
     * Identifies the current TLB contents: it changes with every flush and address-space switch, so callers
     * caching a translation (the code fetcher, block links) can revalidate. Switching back to a PCID whose
     * translations were kept restores the value it had, so what was cached under it holds again.
     */
    private int generation;
    /** Source of fresh generation values. */
    private int nextGeneration;
    /** Flushes so far, and CR3 writes that went back to a PCID's kept translations (the profiler's counts). */
    private long flushes, keptSwitches;
    /**
     * Bumped only by flushes that may drop global translations (everything but a CR3 write with CR4.PGE
     * on): a translation made through a global entry holds across address-space switches until this changes.
     */
    private int globalGeneration;

    public Mmu(CpuState cpu, PhysicalMemory phys) {
        this.cpu = cpu;
        this.phys = phys;
        this.ram = phys.ram();
        for (int i = 0; i < ADDRESS_SPACES; i++) spaces[i] = new AddressSpace(i);
        select(spaces[0]);
        flushAll();
    }

    public PhysicalMemory physical() { return phys; }

    public int generation() { return generation; }

    /** TLB flushes so far: CR3 writes but those that went back to a PCID's kept translations, INVLPG, full flushes. */
    public long flushes() { return flushes; }

    /** CR3 writes (CR4.PCIDE on, bit 63 set) that went back to the translations kept for their PCID. */
    public long keptSwitches() { return keptSwitches; }

    /** See {@link #globalGeneration}; never changes while {@link #generation} stays the same. */
    public int globalGeneration() { return globalGeneration; }

    /**
     * True if the TLB translates the code page holding {@code lin} now, through a global entry: the
     * translation then outlives CR3 writes (the guest keeps global mappings the same in every address
     * space, or must flush them itself, as the architecture requires).
     */
    public boolean codePageGlobal(long lin) {
        int idx = (int) (lin >>> 12) & MASK;
        return tag[EXEC][idx] == ((lin >>> 12) << 1 | userBit) && global[EXEC][idx];
    }

    /**
     * True if code at {@code lin} could be fetched at CPL 3 now: a side-effect-free 4-level walk (no accessed bits)
     * finds it present, user-accessible and not NX at every level. False when it is not, when paging is not 4-level
     * long mode, or when a table lies outside RAM (then nothing is read: the caller must assume the worst). For the
     * native tier's chains made at CPL 0 (docs/emu-native.md, "emuexits"): a chain whose source page CPL 3 cannot
     * fetch is never reached at CPL 3, so it outlives a system call.
     */
    public boolean userFetchable(long lin) {
        if (!cpu.paging() || !cpu.longMode() || ((lin << 16) >> 16) != lin) return false;
        boolean nxe = (cpu.efer & CpuState.EFER_NXE) != 0;
        long table = cpu.cr3 & ADDR_MASK;
        for (int level = 3; level >= 0; level--) {
            long ea = table + ((lin >>> (12 + 9 * level)) & 511) * 8, h = phys.ramPage(ea & ~0xFFFL);
            if (h < 0) return false;
            long entry = phys.readRam(h + (ea & 0xFFF), 8);
            if ((entry & P) == 0 || (entry & US) == 0 || (nxe && (entry & NX) != 0)) return false;
            if (level == 0 || ((level == 1 || level == 2) && (entry & PS) != 0)) return true;
            table = entry & ADDR_MASK;
        }
        return true;
    }

    /** Call after CPL changes. */
    public void setUser(boolean user) {
        userBit = user ? 1 : 0;
        rows();
    }

    /** Points the fast rows at the current address space's for the current privilege. */
    private void rows() {
        readFast = current.fast[(int) userBit][READ];
        writeFast = current.fast[(int) userBit][WRITE];
        if (nativeTlb != null) nativeTlb.select(current.index, (int) userBit);
    }

    /**
     * The off-heap copy of this TLB's data rows for native code ({@link NativeTlb}), created on the first call
     * with what the TLB holds now and kept coherent from then on (the JVM tiers pay nothing for it before).
     */
    public NativeTlb nativeTlb() {
        if (nativeTlb == null) {
            NativeTlb n = new NativeTlb(ADDRESS_SPACES, ram, phys.codePages(), !phys.logsDirtyPages());
            for (AddressSpace a : spaces) {
                for (int u = 0; u < 2; u++) {
                    for (int k = READ; k <= WRITE; k++) {
                        long[] f = a.fast[u][k];
                        for (int i = 0; i < ENTRIES; i++) n.set(a.index, u, k, i, f[2 * i], f[2 * i + 1]);
                    }
                }
                a.nat = n;
            }
            nativeTlb = n;
            rows();
        }
        return nativeTlb;
    }

    public boolean user() { return userBit != 0; }

    private void select(AddressSpace a) {
        current = a;
        a.lastUse = ++switches;
        tag = a.tag;
        host = a.host;
        physPage = a.physPage;
        global = a.global;
        rows();
        generation = a.generation;
    }

    private void renew(AddressSpace a) {
        a.generation = ++nextGeneration;
        if (a == current) generation = a.generation;
    }

    /** The PCID CR3 names now: its low 12 bits while CR4.PCIDE is on, else 0. */
    private int currentPcid() {
        return (cpu.cr4 & CpuState.CR4_PCIDE) != 0 ? (int) (cpu.cr3 & 0xFFF) : 0;
    }

    /**
     * Flushes everything, every PCID's translations included (CR0.PG/WP, CR4 changes, mode switches, state
     * loads); the current address space is then CR3's PCID.
     */
    public void flushAll() {
        for (AddressSpace a : spaces) {
            a.clear();
            a.pcid = -1;
            renew(a);
        }
        current.pcid = currentPcid();
        flushes++;
        globalGeneration++;
    }

    /** A CR3 write without PCIDs (CR4.PCIDE off): drops all but global translations (when CR4.PGE is on). */
    public void flushNonGlobal() {
        boolean pge = (cpu.cr4 & CpuState.CR4_PGE) != 0;
        current.clearNonGlobal(pge);
        renew(current);
        flushes++;
        if (!pge) globalGeneration++;
    }

    /**
     * A CR3 write with CR4.PCIDE on: the TLB now translates for {@code pcid}. With {@code flush} (bit 63 of
     * the value written clear) that PCID's translations are dropped, all but the global ones when CR4.PGE
     * is on; without it, the translations kept for it since it was last current are used again, as hardware
     * may (the guest flushes, or writes CR3 with bit 63 clear, when it changed that address space's tables).
     */
    public void loadPcid(int pcid, boolean flush) {
        AddressSpace target = null, oldest = spaces[0];
        for (AddressSpace a : spaces) {
            if (a.pcid == pcid) target = a;
            // an address space holding nothing goes first, else the least recently used one
            if (oldest.pcid != -1 && (a.pcid == -1 || a.lastUse < oldest.lastUse)) oldest = a;
        }
        boolean kept = target != null && !flush;
        if (target == null) { // a PCID with nothing kept: the least recently used one's translations go
            target = oldest;
            target.clear();
            target.pcid = pcid;
            renew(target);
        }
        select(target);
        if (kept) keptSwitches++;
        else flushes++;
        if (flush) {
            boolean pge = (cpu.cr4 & CpuState.CR4_PGE) != 0;
            target.clearNonGlobal(pge);
            renew(target);
            if (!pge) globalGeneration++;
        }
    }

    /** INVLPG: the page's translations go from every PCID's TLB, global ones included. */
    public void flushPage(long linear) {
        int idx = (int) (linear >>> 12) & MASK;
        for (AddressSpace a : spaces) {
            a.drop(idx);
            renew(a);
        }
        flushes++;
        globalGeneration++; // INVLPG drops a global translation too
    }

    // ---------------------------------------------------------------- data accesses

    public long read(long lin, int size) {
        long[] f = readFast;
        int i = (int) (lin >>> 12) << 1, m = f.length - 1;
        if (f[i & m] == lin >>> 12 && (lin & 0xFFF) <= 4096 - size) {
            return phys.readRam(f[(i | 1) & m] + (lin & 0xFFF), size);
        }
        return readSlow(lin, size);
    }

    public void write(long lin, int size, long value) {
        long[] f = writeFast;
        int i = (int) (lin >>> 12) << 1, m = f.length - 1;
        if (f[i & m] == lin >>> 12 && (lin & 0xFFF) <= 4096 - size) {
            phys.writeRam(f[(i | 1) & m] + (lin & 0xFFF), size, value);
            return;
        }
        writeSlow(lin, size, value);
    }

    // Fixed-size forms of read/write for compiled blocks. The general methods compile (with the size
    // switch of the RAM access inlined) to more machine code than C2 inlines into a caller
    // ("already compiled into a big method"), so a compiled block called them; these stay small enough
    // to be inlined, leaving a guest load or store as a TLB compare and one segment access in the block.
    //
    // The tag compared is that of the access's LAST byte, at the index of its first: it matches only if
    // both bytes lie in the cached page (the next page's number differs in its low bits, so it is never
    // the tag at this index), so one compare also rules out a page-crossing access, which the slow path
    // splits. The forms taking {@code fault} are the compiled blocks': their address has not been checked
    // for canonicality, and needs not be on a hit, since only canonical pages are ever cached in long
    // mode (see fill); a miss checks it first and raises {@code fault} (#GP, or #SS for the stack).
    //
    // They read the fast rows (AddressSpace#fast): tag and host offset side by side in one array whose
    // indexes are masked with its own length - 1, a form C2 proves in bounds (its range checks fold into
    // one "length > 0" test), and which hold RAM pages only, so a hit goes straight to the RAM segment.

    public long read1(long lin) {
        long[] f = readFast;
        int i = (int) (lin >>> 12) << 1, m = f.length - 1;
        if (f[i & m] == lin >>> 12) return ram.get(ValueLayout.JAVA_BYTE, f[(i | 1) & m] + (lin & 0xFFF)) & 0xFFL;
        return readSlow(lin, 1);
    }

    public long read2(long lin) {
        long[] f = readFast;
        int i = (int) (lin >>> 12) << 1, m = f.length - 1;
        if (f[i & m] == (lin + 1) >>> 12) return ram.get(PhysicalMemory.SHORT, f[(i | 1) & m] + (lin & 0xFFF)) & 0xFFFFL;
        return readSlow(lin, 2);
    }

    public long read4(long lin) {
        long[] f = readFast;
        int i = (int) (lin >>> 12) << 1, m = f.length - 1;
        if (f[i & m] == (lin + 3) >>> 12) return ram.get(PhysicalMemory.INT, f[(i | 1) & m] + (lin & 0xFFF)) & 0xFFFF_FFFFL;
        return readSlow(lin, 4);
    }

    public long read8(long lin) {
        long[] f = readFast;
        int i = (int) (lin >>> 12) << 1, m = f.length - 1;
        if (f[i & m] == (lin + 7) >>> 12) return ram.get(PhysicalMemory.LONG, f[(i | 1) & m] + (lin & 0xFFF));
        return readSlow(lin, 8);
    }

    public void write1(long lin, long value) {
        long[] f = writeFast;
        int i = (int) (lin >>> 12) << 1, m = f.length - 1;
        if (f[i & m] == lin >>> 12) phys.writeRam(f[(i | 1) & m] + (lin & 0xFFF), 1, value);
        else writeSlow(lin, 1, value);
    }

    public void write2(long lin, long value) {
        long[] f = writeFast;
        int i = (int) (lin >>> 12) << 1, m = f.length - 1;
        if (f[i & m] == (lin + 1) >>> 12) phys.writeRam(f[(i | 1) & m] + (lin & 0xFFF), 2, value);
        else writeSlow(lin, 2, value);
    }

    public void write4(long lin, long value) {
        long[] f = writeFast;
        int i = (int) (lin >>> 12) << 1, m = f.length - 1;
        if (f[i & m] == (lin + 3) >>> 12) phys.writeRam(f[(i | 1) & m] + (lin & 0xFFF), 4, value);
        else writeSlow(lin, 4, value);
    }

    public void write8(long lin, long value) {
        long[] f = writeFast;
        int i = (int) (lin >>> 12) << 1, m = f.length - 1;
        if (f[i & m] == (lin + 7) >>> 12) phys.writeRam(f[(i | 1) & m] + (lin & 0xFFF), 8, value);
        else writeSlow(lin, 8, value);
    }

    public long read1(long lin, int fault) {
        long[] f = readFast;
        int i = (int) (lin >>> 12) << 1, m = f.length - 1;
        if (f[i & m] == lin >>> 12) return ram.get(ValueLayout.JAVA_BYTE, f[(i | 1) & m] + (lin & 0xFFF)) & 0xFFL;
        return readMiss(lin, 1, fault);
    }

    public long read2(long lin, int fault) {
        long[] f = readFast;
        int i = (int) (lin >>> 12) << 1, m = f.length - 1;
        if (f[i & m] == (lin + 1) >>> 12) return ram.get(PhysicalMemory.SHORT, f[(i | 1) & m] + (lin & 0xFFF)) & 0xFFFFL;
        return readMiss(lin, 2, fault);
    }

    public long read4(long lin, int fault) {
        long[] f = readFast;
        int i = (int) (lin >>> 12) << 1, m = f.length - 1;
        if (f[i & m] == (lin + 3) >>> 12) return ram.get(PhysicalMemory.INT, f[(i | 1) & m] + (lin & 0xFFF)) & 0xFFFF_FFFFL;
        return readMiss(lin, 4, fault);
    }

    public long read8(long lin, int fault) {
        long[] f = readFast;
        int i = (int) (lin >>> 12) << 1, m = f.length - 1;
        if (f[i & m] == (lin + 7) >>> 12) return ram.get(PhysicalMemory.LONG, f[(i | 1) & m] + (lin & 0xFFF));
        return readMiss(lin, 8, fault);
    }

    public void write1(long lin, long value, int fault) {
        long[] f = writeFast;
        int i = (int) (lin >>> 12) << 1, m = f.length - 1;
        if (f[i & m] == lin >>> 12) phys.writeRam(f[(i | 1) & m] + (lin & 0xFFF), 1, value);
        else writeMiss(lin, 1, value, fault);
    }

    public void write2(long lin, long value, int fault) {
        long[] f = writeFast;
        int i = (int) (lin >>> 12) << 1, m = f.length - 1;
        if (f[i & m] == (lin + 1) >>> 12) phys.writeRam(f[(i | 1) & m] + (lin & 0xFFF), 2, value);
        else writeMiss(lin, 2, value, fault);
    }

    public void write4(long lin, long value, int fault) {
        long[] f = writeFast;
        int i = (int) (lin >>> 12) << 1, m = f.length - 1;
        if (f[i & m] == (lin + 3) >>> 12) phys.writeRam(f[(i | 1) & m] + (lin & 0xFFF), 4, value);
        else writeMiss(lin, 4, value, fault);
    }

    public void write8(long lin, long value, int fault) {
        long[] f = writeFast;
        int i = (int) (lin >>> 12) << 1, m = f.length - 1;
        if (f[i & m] == (lin + 7) >>> 12) phys.writeRam(f[(i | 1) & m] + (lin & 0xFFF), 8, value);
        else writeMiss(lin, 8, value, fault);
    }

    /** A compiled block's load that missed the TLB: the canonical check its hit path leaves out, then the walk. */
    private long readMiss(long lin, int size, int fault) {
        if (((lin << 16) >> 16) != lin) throw GuestFault.of(fault, 0);
        return readSlow(lin, size);
    }

    private void writeMiss(long lin, int size, long value, int fault) {
        if (((lin << 16) >> 16) != lin) throw GuestFault.of(fault, 0);
        writeSlow(lin, size, value);
    }

    /** A supervisor-privilege access regardless of CPL (descriptor tables, TSS, IDT). */
    public long readSystem(long lin, int size) {
        long saved = userBit;
        userBit = 0;
        rows();
        try {
            return read(lin, size);
        } finally {
            userBit = saved;
            rows();
        }
    }

    public void writeSystem(long lin, int size, long value) {
        long saved = userBit;
        userBit = 0;
        rows();
        try {
            write(lin, size, value);
        } finally {
            userBit = saved;
            rows();
        }
    }

    private long readSlow(long lin, int size) {
        if ((lin & 0xFFF) <= 4096 - size) {
            int idx = fill(lin, READ);
            long h = host[READ][idx];
            if (h >= 0) return phys.readRam(h + (lin & 0xFFF), size);
            return phys.read(physPage[READ][idx] | (lin & 0xFFF), size);
        }
        long v = 0;
        for (int i = 0; i < size; i++) v |= read(lin + i, 1) << (8 * i);
        return v;
    }

    private void writeSlow(long lin, int size, long value) {
        if ((lin & 0xFFF) <= 4096 - size) {
            int idx = fill(lin, WRITE);
            long h = host[WRITE][idx];
            if (h >= 0) phys.writeRam(h + (lin & 0xFFF), size, value);
            else phys.write(physPage[WRITE][idx] | (lin & 0xFFF), size, value);
            return;
        }
        // Check both pages before writing either, so a fault on the second leaves memory untouched.
        fill(lin, WRITE);
        fill(lin + size - 1, WRITE);
        for (int i = 0; i < size; i++) write(lin + i, 1, value >>> (8 * i));
    }

    // ---------------------------------------------------------------- instruction fetch

    /** Host offset of the start of the code page holding {@code lin}, or -1 if it is not RAM. */
    public long codePage(long lin) {
        int idx = (int) (lin >>> 12) & MASK;
        if (tag[EXEC][idx] != ((lin >>> 12) << 1 | userBit)) idx = fill(lin, EXEC);
        return host[EXEC][idx];
    }

    /**
     * Host offset of the code page holding {@code lin} if the TLB already translates it, else -2: a
     * probe that never walks the page tables (so never faults or touches CR2).
     */
    public long codePageIfCached(long lin) {
        int idx = (int) (lin >>> 12) & MASK;
        return tag[EXEC][idx] == ((lin >>> 12) << 1 | userBit) ? host[EXEC][idx] : -2;
    }

    /** Fetches one code byte through the slow path (code in MMIO space). */
    public int fetchSlow(long lin) {
        int idx = (int) (lin >>> 12) & MASK;
        if (tag[EXEC][idx] != ((lin >>> 12) << 1 | userBit)) idx = fill(lin, EXEC);
        long h = host[EXEC][idx];
        if (h >= 0) return (int) phys.readRam(h + (lin & 0xFFF), 1);
        return (int) phys.read(physPage[EXEC][idx] | (lin & 0xFFF), 1);
    }

    public MemorySegment ram() { return ram; }

    // ---------------------------------------------------------------- atomics

    /**
     * Compare-and-swap of guest memory for LOCK-prefixed instructions and XCHG: atomic against every
     * other vCPU's accesses when the operand lies in one naturally aligned host word, which is what
     * Linux's atomics use. Returns whether memory held {@code expected} (and now holds {@code value}).
     */
    public boolean compareAndSwap(long lin, int size, long expected, long value) {
        if ((lin & 0xFFF) > 4096 - size) return splitCas(lin, size, expected, value);
        int idx = (int) (lin >>> 12) & MASK;
        if (tag[WRITE][idx] != ((lin >>> 12) << 1 | userBit)) idx = fill(lin, WRITE);
        long h = host[WRITE][idx];
        if (h < 0) return splitCas(lin, size, expected, value);
        long off = h + (lin & 0xFFF);
        if (size == 8 && (off & 7) == 0) return stored(off, CAS_LONG.compareAndSet(ram, off, expected, value));
        if (size == 4 && (off & 3) == 0) return stored(off, CAS_INT.compareAndSet(ram, off, (int) expected, (int) value));
        if (size < 4 && (off & ~3L) == ((off + size - 1) & ~3L)) {
            long word = off & ~3L;
            int shift = (int) (off - word) * 8;
            int fieldMask = (int) (((1L << (size * 8)) - 1) << shift);
            while (true) {
                int old = (int) CAS_INT.getVolatile(ram, word);
                if ((((old & fieldMask) >>> shift) & ((1L << (size * 8)) - 1)) != (expected & ((1L << (size * 8)) - 1))) {
                    return false;
                }
                int next = (old & ~fieldMask) | (((int) value << shift) & fieldMask);
                if (CAS_INT.compareAndSet(ram, word, old, next)) return stored(off, true);
            }
        }
        return splitCas(lin, size, expected, value);
    }

    /** A swap at host offset {@code off} that happened ({@code swapped}) is a store: the code tracker hears of it. */
    private boolean stored(long off, boolean swapped) {
        if (swapped) phys.stored(off);
        return swapped;
    }

    /** True if a store since the last {@link #clearCodeStored} changed a page holding decoded code. */
    public boolean codeStored() { return phys.codeStored(); }

    public void clearCodeStored() { phys.clearCodeStored(); }

    private boolean splitCas(long lin, int size, long expected, long value) {
        synchronized (SPLIT_LOCK) {
            long mask = size == 8 ? -1L : (1L << (size * 8)) - 1;
            if ((read(lin, size) & mask) != (expected & mask)) return false;
            write(lin, size, value);
            return true;
        }
    }

    /**
     * CMPXCHG16B on a 16-byte aligned operand: if memory holds {@code expectedHi:expectedLo} it becomes
     * {@code newHi:newLo} and the result is true; otherwise memory is unchanged and the result is false.
     * Either way {@code observed} receives the 16 bytes compared (low, high). Like the instruction, it
     * needs write access even when the comparison fails.
     *
     * <p>Java has no 128-bit CAS. The split lock makes 16-byte swaps atomic against each other and
     * against the split locked accesses; against other vCPUs' plain stores and 8-byte CASes each half is
     * changed with a host CAS, so a concurrent update of either half is never overwritten: a changed low
     * half makes the instruction look again, a changed high half undoes the low half and looks again.
     * What remains non-atomic is that another vCPU may briefly see the new low half next to the old high
     * half while such an undo runs (Linux updates its cmpxchg16b pairs, SLUB's freelist/counter and
     * per-CPU freelist/tid, only with cmpxchg16b, so it never races a single-half write with one).
     */
    public boolean compareAndSwap16(long lin, long expectedLo, long expectedHi, long newLo, long newHi, long[] observed) {
        int idx = (int) (lin >>> 12) & MASK;
        if (tag[WRITE][idx] != ((lin >>> 12) << 1 | userBit)) idx = fill(lin, WRITE);
        long h = host[WRITE][idx];
        synchronized (SPLIT_LOCK) {
            if (h < 0) { // not RAM: no other vCPU can CAS it, the lock is enough
                observed[0] = read(lin, 8);
                observed[1] = read(lin + 8, 8);
                if (observed[0] != expectedLo || observed[1] != expectedHi) return false;
                write(lin, 8, newLo);
                write(lin + 8, 8, newHi);
                return true;
            }
            long off = h + (lin & 0xFFF);
            while (true) {
                long lo = (long) CAS_LONG.getVolatile(ram, off);
                long hi = (long) CAS_LONG.getVolatile(ram, off + 8);
                if ((long) CAS_LONG.getVolatile(ram, off) != lo) continue; // low half written in between: torn
                observed[0] = lo;
                observed[1] = hi;
                if (lo != expectedLo || hi != expectedHi) return false;
                if (!CAS_LONG.compareAndSet(ram, off, lo, newLo)) continue;
                if (CAS_LONG.compareAndSet(ram, off + 8, hi, newHi)) return stored(off, true);
                CAS_LONG.compareAndSet(ram, off, newLo, lo);
            }
        }
    }

    // ---------------------------------------------------------------- page walk

    /**
     * Translates for {@code access} through the TLB (walking the tables on a miss, faulting as the CPU would)
     * and returns the physical address.
     */
    public long translate(long lin, int access) {
        int idx = (int) (lin >>> 12) & MASK;
        if (tag[access][idx] != ((lin >>> 12) << 1 | userBit)) idx = fill(lin, access);
        return physPage[access][idx] | (lin & 0xFFF);
    }

    private int fill(long lin, int access) {
        int idx = (int) (lin >>> 12) & MASK;
        long pagePhys;
        boolean glob = false;
        if (!cpu.paging()) {
            pagePhys = lin & 0xFFFF_F000L;
        } else {
            // Only canonical pages are cached in long mode: the compiled blocks' accessors rely on it
            // and check canonicality only on a miss. Callers check before (with #SS where it is due).
            if (cpu.longMode() && ((lin << 16) >> 16) != lin) throw GuestFault.of(GuestFault.GP, 0);
            walk(lin, access);
            pagePhys = walkResult[0];
            glob = walkResult[1] != 0;
        }
        long t = (lin >>> 12) << 1 | userBit, h = phys.ramPage(pagePhys);
        tag[access][idx] = t;
        physPage[access][idx] = pagePhys;
        host[access][idx] = h;
        global[access][idx] = glob;
        if (access != EXEC) {
            long[] f = current.fast[(int) userBit][access];
            f[2 * idx] = h >= 0 ? lin >>> 12 : -1; // only RAM pages hit in the fast rows
            f[2 * idx + 1] = h;
            // The other privilege's row loses its entry at idx, as the tag row did: the fast rows hold only
            // what the tag rows hold, whose global bit (one per idx) decides what a CR3 write keeps.
            current.fast[(int) userBit ^ 1][access][2 * idx] = -1;
            NativeTlb n = current.nat;
            if (n != null) {
                n.set(current.index, (int) userBit, access, idx, f[2 * idx], h);
                n.drop(current.index, (int) userBit ^ 1, access, idx);
            }
        }
        return idx;
    }

    private final long[] walkResult = new long[2];

    /** Walks the page tables of the current paging mode into {@link #walkResult}, or throws #PF. */
    private void walk(long lin, int access) {
        if (cpu.longMode()) {
            walkTables(lin, access, cpu.cr3 & ADDR_MASK, 4, 8);
        } else if ((cpu.cr4 & CpuState.CR4_PAE) != 0) {
            // PAE: bits 31:30 pick one of four PDPTEs at CR3 (32-byte aligned); they carry no permissions.
            long pdpte = phys.read((cpu.cr3 & 0xFFFF_FFE0L) + ((lin >>> 30) & 3) * 8, 8);
            if ((pdpte & P) == 0) throw pageFault(lin, access, false);
            walkTables(lin, access, pdpte & ADDR_MASK, 2, 8);
        } else {
            walkTables(lin, access, cpu.cr3 & 0xFFFF_F000L, 2, 4);
        }
    }

    /**
     * Walks {@code levels} tables of {@code entryBytes}-byte entries from {@code table}: 8-byte entries
     * index 9 bits per level (long mode, PAE), 4-byte ones 10 (legacy). Large pages: 1 GiB and 2 MiB in
     * long mode, 2 MiB with PAE, 4 MiB in legacy paging if CR4.PSE.
     */
    private void walkTables(long lin, int access, long table, int levels, int entryBytes) {
        boolean user = userBit != 0;
        boolean write = access == WRITE;
        boolean wide = entryBytes == 8;
        boolean nxe = wide && (cpu.efer & CpuState.EFER_NXE) != 0;
        int bits = wide ? 9 : 10;
        long entryMask = wide ? -1L : 0xFFFF_FFFFL;
        long addrMask = wide ? ADDR_MASK : 0xFFFF_F000L;
        boolean largeLeaf = wide || (cpu.cr4 & CpuState.CR4_PSE) != 0;
        // Non-canonical addresses are #GP (or #SS) on real hardware; callers check canonicality.
        boolean rw = true, us = true, nx = false;
        long[] entries = walkEntries;
        long[] addrs = walkAddrs;
        int walked = 0;
        long pageSize = 0;
        long entry = 0;
        for (int level = levels - 1; level >= 0; level--) {
            long ea = table + ((lin >>> (12 + bits * level)) & ((1L << bits) - 1)) * entryBytes;
            entry = phys.read(ea, entryBytes) & entryMask;
            entries[walked] = entry;
            addrs[walked++] = ea;
            if ((entry & P) == 0) throw pageFault(lin, access, false);
            if (nxe && (entry & NX) != 0) nx = true;
            if ((entry & RW) == 0) rw = false;
            if ((entry & US) == 0) us = false;
            if (level == 0 || (largeLeaf && (level == 1 || level == 2) && (entry & PS) != 0)) {
                pageSize = 1L << (12 + bits * level);
                break;
            }
            table = entry & addrMask;
        }
        if (user && !us) throw pageFault(lin, access, true);
        if (write && !rw && (user || (cpu.cr0 & CpuState.CR0_WP) != 0)) throw pageFault(lin, access, true);
        if (access == EXEC && nx) throw pageFault(lin, access, true);
        // Set accessed bits along the path and dirty on the leaf, atomically: if another CPU changed an
        // entry since we read it, walk again rather than write back a stale entry.
        for (int i = 0; i < walked; i++) {
            long e = entries[i];
            long want = e | A | ((i == walked - 1 && write) ? D : 0);
            if (want != e && !swapEntry(addrs[i], entryBytes, e, want)) {
                walk(lin, access);
                return;
            }
        }
        long frame = entry & addrMask & ~(pageSize - 1);
        walkResult[0] = frame | (lin & (pageSize - 1) & ~0xFFFL);
        walkResult[1] = (entry & G) != 0 ? 1 : 0;
        // A read-only page must not be cached in the write TLB; the caller only fills the requested kind.
    }

    /** Compare-and-swap of a paging entry; a 4-byte one through the aligned 8 bytes that hold it. */
    private boolean swapEntry(long ea, int entryBytes, long expected, long value) {
        if (entryBytes == 8) return phys.compareAndSwapEntry(ea, expected, value);
        long quadAddr = ea & ~7L;
        int shift = (int) (ea & 4) * 8;
        long quad = phys.read(quadAddr, 8);
        if (((quad >>> shift) & 0xFFFF_FFFFL) != expected) return false;
        long updated = (quad & ~(0xFFFF_FFFFL << shift)) | (value << shift);
        return phys.compareAndSwapEntry(quadAddr, quad, updated);
    }

    private final long[] walkEntries = new long[4];
    private final long[] walkAddrs = new long[4];

    private GuestFault pageFault(long lin, int access, boolean present) {
        cpu.cr2 = lin;
        boolean nxPaging = (cpu.efer & CpuState.EFER_NXE) != 0 && (cpu.cr4 & CpuState.CR4_PAE) != 0;
        int err = (present ? 1 : 0) | (access == WRITE ? 2 : 0) | (userBit != 0 ? 4 : 0)
                | (access == EXEC && nxPaging ? 16 : 0);
        return GuestFault.of(GuestFault.PF, err);
    }
}
