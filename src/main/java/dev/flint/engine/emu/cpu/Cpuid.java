package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.irq.TimerCpuid;

/**
 * What CPUID tells the guest: exactly the features the core and the FPU units implement. GenuineIntel,
 * so Linux reads the TSC frequency from leaf 0x15 (crystal = TSC = {@link #TSC_HZ}, marked known) and
 * trusts leaf 0x80000007's invariant TSC instead of calibrating against the PIT.
 */
public final class Cpuid {
    public static final long TSC_HZ = dev.flint.engine.emu.GuestClock.TSC_HZ;

    /** Leaf 1 EDX: FPU PSE TSC MSR PAE CX8 APIC PGE CMOV PAT CLFSH MMX FXSR SSE SSE2. */
    static final int LEAF1_EDX = 1 | 1 << 3 | 1 << 4 | 1 << 5 | 1 << 6 | 1 << 8 | TimerCpuid.LEAF1_EDX_APIC | 1 << 13
            | 1 << 15 | 1 << 16 | 1 << 19 | 1 << 23 | 1 << 24 | 1 << 25 | 1 << 26;
    /**
     * Leaf 1 ECX: CMPXCHG16B, PCID, POPCNT, TSC-deadline timer. PCID: CR4.PCIDE, CR3's PCID bits and its
     * no-flush bit 63, a TLB per PCID (Linux then keeps a process's translations across switches); INVPCID
     * is not offered (leaf 7).
     */
    static final int LEAF1_ECX = 1 << 13 | 1 << 17 | 1 << 23 | TimerCpuid.LEAF1_ECX_TSC_DEADLINE;
    /** Leaf 7 EDX: IA32_ARCH_CAPABILITIES, so Linux learns it need not isolate page tables (PTI). */
    static final int LEAF7_EDX = 1 << 29;
    /**
     * Leaf 7 EBX: IA32_TSC_ADJUST. With constant + non-stop TSC it tells Linux the TSC needs no
     * clocksource watchdog: an emulated CPU delivers timer ticks late under load, and the watchdog would
     * then wrongly mark the (host-clock based, hence exact) TSC unstable.
     */
    static final int LEAF7_EBX = 1 << 1;
    /** Leaf 0x80000001 EDX: SYSCALL, NX, 1 GiB pages, RDTSCP, LM. ECX: LAHF/SAHF in 64-bit mode. */
    static final int EXT1_EDX = 1 << 11 | 1 << 20 | 1 << 26 | 1 << 27 | 1 << 29;
    static final int EXT1_ECX = 1;
    /** IA32_ARCH_CAPABILITIES: RDCL_NO, SKIP_L1DFL_VMENTRY, SSB_NO, MDS_NO, PSCHANGE_MC_NO, TAA_NO. */
    public static final long ARCH_CAPABILITIES = 1 | 1 << 3 | 1 << 4 | 1 << 5 | 1 << 6 | 1 << 8;

    /**
     * Leaf 1 EDX bit 28 (HTT): EBX[23:16] counts the package's logical processors. Set with {@link #ONE_PACKAGE} at
     * more than 1 vCPU, so that Linux reads the package from leaf 4 (all vCPUs: one package of that many cores)
     * instead of making each vCPU a package of its own (docs/emu-speed.md, "emusmp2").
     */
    static final int LEAF1_EDX_HTT = 1 << 28;
    /**
     * {@code -Dflint.emu.cpuid.onePackage=true}: at more than 1 vCPU, HTT and the cache leaves of {@link #cacheLeaf}
     * (one package, the vCPUs its cores, sharing the last-level cache: what QEMU's guest sees). Off by default:
     * session 17 could not show it paying on a host at load 6-13 (docs/emu-speed.md, "emusmp2"); the switch is there
     * for the 2-vCPU bench's A/B on a quiet host.
     */
    static final boolean ONE_PACKAGE = Boolean.getBoolean("flint.emu.cpuid.onePackage");

    /**
     * Leaf 4, deterministic cache parameters: L1d and L1i (32 KiB, 8 ways) and L2 (1 MiB, 16 ways) per core, L3
     * (16 MiB, 16 ways) shared by all vCPUs, 64-byte lines, and EAX[31:26] = cores per package - 1. Descriptive only
     * (the emulator has no caches; its vCPU threads run on host cores that share the host's last-level cache), but
     * it is what the guest's scheduler builds its domains from: without a shared last-level cache each vCPU is
     * its own package, and Linux's wake-up path never looks for the other, idle vCPU for a task woken by a pipe
     * (wake_affine picks between the waker's and the wakee's previous CPU only; select_idle_sibling searches the
     * last-level cache's CPUs), which can keep the bench's dd and sha256sum on one vCPU. Subleaf 4 on: type 0, no
     * more caches. Given at more than 1 vCPU only (a 1-vCPU guest sees what it saw before: no cache leaves), and
     * only with {@link #ONE_PACKAGE}.
     */
    static void cacheLeaf(int sub, int cpus, int[] out) {
        int n = Math.max(1, cpus);
        int level, type, sharing, ways, sets;
        switch (sub) {
            case 0 -> { level = 1; type = 1; sharing = 1; ways = 8; sets = 64; }      // L1 data
            case 1 -> { level = 1; type = 2; sharing = 1; ways = 8; sets = 64; }      // L1 instruction
            case 2 -> { level = 2; type = 3; sharing = 1; ways = 16; sets = 1024; }   // L2, per core
            case 3 -> { level = 3; type = 3; sharing = n; ways = 16; sets = 16384; }  // L3, all vCPUs
            default -> { return; }
        }
        // EAX[25:14]: logical processors sharing it - 1 (a power of two covering them, as hardware reports it).
        int share = Integer.highestOneBit(Math.max(1, sharing * 2 - 1));
        out[0] = type | level << 5 | 1 << 8 | (share - 1) << 14 | (Math.min(n, 64) - 1) << 26;
        out[1] = 63 | (ways - 1) << 22; // 64-byte lines, 1 partition
        out[2] = sets - 1;
        out[3] = level == 3 ? 2 : 0;   // L3 inclusive of the lower levels
    }

    private static final String BRAND = "Flint emulated x86-64 CPU";

    private Cpuid() {}

    /** Fills {@code out} with EAX, EBX, ECX, EDX for {@code leaf}/{@code sub} on vCPU {@code apicId}. */
    public static void query(int leaf, int sub, int apicId, int cpus, int[] out) {
        query(leaf, sub, apicId, cpus, ONE_PACKAGE, out);
    }

    /** As above, with {@code onePackage} for {@link #ONE_PACKAGE} (tests give it). */
    static void query(int leaf, int sub, int apicId, int cpus, boolean onePackage, int[] out) {
        out[0] = out[1] = out[2] = out[3] = 0;
        switch (leaf) {
            case 0 -> {
                out[0] = 0x16;
                out[1] = 0x756E6547; // "Genu"
                out[3] = 0x49656E69; // "ineI"
                out[2] = 0x6C65746E; // "ntel"
            }
            case 1 -> {
                out[0] = 0x000206A7; // family 6, model 0x2A, stepping 7
                out[1] = (apicId << 24) | (Math.max(1, cpus) << 16) | (8 << 8);
                out[2] = LEAF1_ECX;
                out[3] = LEAF1_EDX | (cpus > 1 && onePackage ? LEAF1_EDX_HTT : 0);
            }
            case 2 -> out[0] = 1; // one round of descriptors, none given: Linux then uses leaf 4
            case 4 -> {
                if (cpus > 1 && onePackage) cacheLeaf(sub, cpus, out); // 1 vCPU: no cache leaves, nothing to share
            }
            case 7 -> {
                if (sub == 0) {
                    out[1] = LEAF7_EBX;
                    out[3] = LEAF7_EDX;
                }
            }
            case 0x15 -> System.arraycopy(TimerCpuid.leaf15(), 0, out, 0, 4);
            case 0x16 -> {
                out[0] = (int) (TSC_HZ / 1_000_000);
                out[1] = (int) (TSC_HZ / 1_000_000);
                out[2] = 100;
            }
            case 0x8000_0000 -> out[0] = 0x8000_0008;
            case 0x8000_0001 -> {
                out[2] = EXT1_ECX;
                out[3] = EXT1_EDX;
            }
            case 0x8000_0002, 0x8000_0003, 0x8000_0004 -> {
                byte[] b = String.format("%-48s", BRAND).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
                int base = (leaf - 0x8000_0002) * 16;
                for (int r = 0; r < 4; r++) {
                    int v = 0;
                    for (int i = 0; i < 4; i++) v |= (b[base + r * 4 + i] & 0xFF) << (8 * i);
                    out[r] = v;
                }
                if (leaf == 0x8000_0004) out[3] &= 0x00FF_FFFF; // NUL-terminate
            }
            case 0x8000_0007 -> out[3] = TimerCpuid.LEAF80000007_EDX_INVARIANT_TSC;
            case 0x8000_0008 -> out[0] = 0x3028; // 40 physical, 48 linear address bits
            default -> { }
        }
    }
}
