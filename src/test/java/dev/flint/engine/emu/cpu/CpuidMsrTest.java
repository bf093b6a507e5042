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
}
