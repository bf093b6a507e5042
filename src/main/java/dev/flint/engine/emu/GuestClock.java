package dev.flint.engine.emu;

/**
 * The guest's time base: a TSC that runs at a fixed advertised frequency and follows the host's
 * monotonic clock, so guest time tracks wall time however fast or slow the emulated CPU is. Shared by
 * all vCPUs (RDTSC), the APIC timers and any PV clock.
 */
public final class GuestClock {
    /** Advertised TSC frequency. 1 GHz keeps nanosecond ↔ tick conversion exact. */
    public static final long TSC_HZ = 1_000_000_000L;

    private final long originNanos = System.nanoTime();

    /** Current TSC value. */
    public long tsc() { return System.nanoTime() - originNanos; }

    /** Host System.nanoTime() at which the TSC reaches {@code tsc}. */
    public long nanosAtTsc(long tsc) { return originNanos + tsc; }

    public long tscHz() { return TSC_HZ; }
}
