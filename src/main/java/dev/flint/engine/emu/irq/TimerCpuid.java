package dev.flint.engine.emu.irq;

import dev.flint.engine.emu.GuestClock;

/**
 * The CPUID bits about interrupts and time that this package makes true, for the CPU core to OR into
 * its leaves. Each one is implemented here; see the package documentation for what Linux does with it.
 */
public final class TimerCpuid {
    private TimerCpuid() { }

    /** CPUID.1:ECX bit 24: the local APIC timer has TSC-deadline mode (MSR 0x6E0). */
    public static final int LEAF1_ECX_TSC_DEADLINE = 1 << 24;

    /** CPUID.1:EDX bit 9: an on-chip local APIC. */
    public static final int LEAF1_EDX_APIC = 1 << 9;

    /** CPUID.80000007:EDX bit 8: invariant TSC (it follows the host's monotonic clock at a fixed rate). */
    public static final int LEAF80000007_EDX_INVARIANT_TSC = 1 << 8;

    /**
     * CPUID 0x15 (Intel "TSC and core crystal clock") as {eax, ebx, ecx, edx}: TSC = crystal * ebx / eax
     * with the crystal at ecx Hz. The crystal is reported equal to the TSC, which is also the APIC timer's
     * input clock, so Linux derives both frequencies without calibrating.
     */
    public static int[] leaf15() {
        return new int[] {1, 1, (int) GuestClock.TSC_HZ, 0};
    }
}
