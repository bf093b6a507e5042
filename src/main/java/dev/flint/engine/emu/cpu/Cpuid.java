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

    private static final String BRAND = "Flint emulated x86-64 CPU";

    private Cpuid() {}

    /** Fills {@code out} with EAX, EBX, ECX, EDX for {@code leaf}/{@code sub} on vCPU {@code apicId}. */
    public static void query(int leaf, int sub, int apicId, int cpus, int[] out) {
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
                out[3] = LEAF1_EDX;
            }
            case 2 -> out[0] = 1; // one round of descriptors, none given: Linux then uses leaf 4 (empty)
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
