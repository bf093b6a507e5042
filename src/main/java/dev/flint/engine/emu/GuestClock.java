package dev.flint.engine.emu;

import java.util.function.LongSupplier;

/**
 * The guest's time base: a TSC that runs at a fixed advertised frequency and follows the host's
 * monotonic clock, so guest time tracks wall time however fast or slow the emulated CPU is. Shared by
 * all vCPUs (RDTSC), the APIC timers and any PV clock.
 */
public final class GuestClock {
    /** Advertised TSC frequency. 1 GHz keeps nanosecond ↔ tick conversion exact. */
    public static final long TSC_HZ = 1_000_000_000L;

    private final LongSupplier nanoSource;
    private volatile long originNanos;
    /** Host time the machine did not see (between a snapshot and its restore); subtracted from the source. */
    private volatile long shiftNanos;

    /** The clock of a running machine: follows {@link System#nanoTime()}. */
    public GuestClock() { this(System::nanoTime); }

    /**
     * A clock over another monotonic nanosecond source (System.nanoTime scale). Tests pass a source they
     * advance by hand so timers fire deterministically without sleeping.
     */
    public GuestClock(LongSupplier nanoSource) {
        this.nanoSource = nanoSource;
        this.originNanos = nanoSource.getAsLong();
    }

    /** Host monotonic time now, on the scale of {@link #nanosAtTsc(long)} and timer deadlines. */
    public long nanos() { return nanoSource.getAsLong() - shiftNanos; }

    /** Current TSC value. */
    public long tsc() { return nanos() - originNanos; }

    /** Host System.nanoTime() at which the TSC reaches {@code tsc}. */
    public long nanosAtTsc(long tsc) { return originNanos + tsc; }

    public long tscHz() { return TSC_HZ; }

    /**
     * Snapshot: the machine's time now and its TSC origin. Every deadline the timers hold is on this
     * clock's scale, so restoring these two makes them all valid again in the new process.
     */
    public void save(dev.flint.machine.state.StateWriter.Section out) { out.putLong(nanos()).putLong(originNanos); }

    /** Continues the saved clock from now on: the guest sees no time pass between snapshot and restore. */
    public void restore(dev.flint.machine.state.StateReader.Section in) {
        long then = in.getLong();
        long origin = in.getLong();
        shiftNanos = nanoSource.getAsLong() - then;
        originNanos = origin;
    }
}
