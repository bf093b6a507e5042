package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.GuestClock;

/**
 * One CPU's TSC: the guest clock shared by all vCPUs plus this CPU's IA32_TSC_ADJUST. RDTSC/RDTSCP
 * ({@link Cpu}) and the TSC MSRs ({@link Interrupts}) both read and write it here.
 */
final class TimeStampCounter {
    private final GuestClock clock;
    /** IA32_TSC_ADJUST: 0 unless the guest writes it or the TSC. */
    private long adjust;

    TimeStampCounter(GuestClock clock) { this.clock = clock; }

    long read() { return clock.tsc() + adjust; }

    /** A write to the TSC moves TSC_ADJUST by the same amount, as on hardware. */
    void write(long value) { adjust += value - read(); }

    long adjust() { return adjust; }

    void setAdjust(long value) { adjust = value; }
}
