package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.EmuTestRig;
import org.junit.jupiter.api.Test;

import java.util.HexFormat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What CPUID advertises and the TSC/MSR behaviour Linux's timekeeping depends on. */
class CpuidMsrTest {
    private static EmuTestRig.Result run(String hex, int cpl) {
        return new EmuTestRig().run(HexFormat.of().parseHex(hex), EmuTestRig.State.of(new long[16], 2), new byte[0], cpl);
    }

    @Test
    void vendorAndTscFrequencyLeaves() {
        long[] r = run("31c00fa2", 3).state().gpr(); // xor eax, eax; cpuid
        assertEquals(0x756E6547, r[3]);
        assertEquals(0x49656E69, r[2]);
        assertEquals(0x6C65746E, r[1]);
        assertTrue(r[0] >= 0x15, "leaf 0x15 (TSC/crystal ratio) is reachable");
        long[] tsc = run("b8150000000fa2", 3).state().gpr(); // mov eax, 0x15; cpuid
        assertEquals(1_000_000_000L, tsc[1] /* ECX */ * tsc[3] /* EBX */ / tsc[0], "TSC Hz = crystal * EBX / EAX");
    }

    @Test
    void advertisesTscAdjustAndInvariantTscButNotXsave() {
        long[] l7 = run("b80700000031c90fa2", 3).state().gpr();
        assertEquals(2, l7[3] & 2, "leaf 7 EBX: TSC_ADJUST");
        long[] l1 = run("b8010000000fa2", 3).state().gpr();
        assertEquals(0, l1[1] & (1L << 26), "leaf 1 ECX: no XSAVE");
        assertEquals(1L << 24, l1[1] & (1L << 24), "leaf 1 ECX: TSC-deadline timer");
        // Exactly what is implemented: CMPXCHG16B, PCID, POPCNT, TSC-deadline; no SSE3/SSSE3/SSE4.x/XSAVE/AVX.
        assertEquals(Long.toHexString(1L << 13 | 1L << 17 | 1L << 23 | 1L << 24), Long.toHexString(l1[1] & 0x7FFF_FFFFL), "leaf 1 ECX");
        long[] e7 = run("b8070000800fa2", 3).state().gpr();
        assertEquals(1L << 8, e7[2] & (1L << 8), "0x80000007 EDX: invariant TSC");
    }

    @Test
    void tscAdjustRoundTripsAndTscMoves() {
        EmuTestRig.Result adj = run("b93b000000b80500000031d20f3031c00f32", 0);
        assertEquals(5, adj.state().gpr()[0], "wrmsr/rdmsr IA32_TSC_ADJUST");
        EmuTestRig.Result delta = run("0f3148c1e2204809d04889c30f3148c1e2204809d04829d8", 3);
        assertTrue(delta.state().gpr()[0] > 0, "RDTSC advances");
    }
    /**
     * At 2 vCPUs the guest must see one package of two cores sharing the last-level cache (what QEMU shows too),
     * decoded as Linux does (HTT, leaf 4's cores per package, the last cache leaf's sharing count): with each vCPU
     * a package of its own, Linux's wake-ups of a pipe's reader stayed on the writer's vCPU (docs/emu-speed.md,
     * "emusmp2"). That is the switch {@code flint.emu.cpuid.onePackage}; without it, and at 1 vCPU, CPUID stays as
     * it was: no HTT, no cache leaves.
     */
    @Test
    void twoVcpusAreOnePackageSharingTheLastLevelCache() {
        int[] l1 = new int[4];
        Cpuid.query(1, 0, 1, 2, true, l1);
        assertEquals(1 << 28, l1[3] & (1 << 28), "leaf 1 EDX: HTT, so EBX[23:16] counts the package's processors");
        assertEquals(2, l1[1] >>> 16 & 0xFF, "leaf 1 EBX: 2 logical processors");
        long[] llcId = new long[2];
        for (int apic = 0; apic < 2; apic++) {
            int[] leaf = new int[4];
            int lastLevel = 0, sharing = 0, sub = 0;
            for (; sub < 16; sub++) {
                Cpuid.query(4, sub, apic, 2, true, leaf);
                if ((leaf[0] & 0x1F) == 0) break;
                if (sub == 0) assertEquals(2, (leaf[0] >>> 26) + 1, "leaf 4 EAX[31:26]: 2 cores per package");
                int level = leaf[0] >>> 5 & 7;
                if (level > lastLevel) {
                    lastLevel = level;
                    sharing = (leaf[0] >>> 14 & 0xFFF) + 1;
                }
            }
            assertTrue(sub > 0 && sub < 16, "leaf 4 lists the caches and ends with a null leaf");
            int bits = 32 - Integer.numberOfLeadingZeros(sharing - 1);
            llcId[apic] = apic & ~((1 << bits) - 1);
        }
        assertEquals(llcId[0], llcId[1], "both vCPUs share the last-level cache");
        int[] one = new int[4];
        Cpuid.query(4, 0, 0, 1, true, one);
        assertEquals(0, one[0], "1 vCPU: no cache leaves, as before");
        Cpuid.query(1, 0, 0, 1, true, one);
        assertEquals(0, one[3] & (1 << 28), "1 vCPU: no HTT, as before");
        Cpuid.query(4, 0, 0, 2, false, one);
        assertEquals(0, one[0], "switch off: no cache leaves, as before");
        Cpuid.query(1, 0, 0, 2, false, one);
        assertEquals(0, one[3] & (1 << 28), "switch off: no HTT, as before");
    }
}
