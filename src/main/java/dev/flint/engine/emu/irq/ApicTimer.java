package dev.flint.engine.emu.irq;

/**
 * The local APIC timer's counting arithmetic, kept apart from the register file and from scheduling.
 * Nothing ticks: the current count is computed from the time the initial count was loaded, and the
 * owner schedules the interrupt at {@link #deadline()}.
 *
 * <p>The timer counts at the APIC bus clock divided by the divide configuration. The bus clock is 1 GHz
 * (one count per nanosecond before division, as KVM's emulated APIC does), so the guest can learn it
 * from the same frequency it learns for the TSC. Not thread-safe: guarded by the owning {@link LocalApic}.
 */
final class ApicTimer {
    /** No deadline armed. */
    static final long NONE = Long.MAX_VALUE;

    /** A periodic timer faster than this would monopolize the timer thread; KVM clamps similarly. */
    static final long MIN_PERIOD_NANOS = 100_000;

    enum Mode { ONE_SHOT, PERIODIC, TSC_DEADLINE }

    private Mode mode = Mode.ONE_SHOT;
    private int divideConfig;
    private int initialCount;
    private long startNanos;
    private long deadlineNanos = NONE;
    private long tscDeadline;

    void save(dev.flint.machine.state.StateWriter.Section out) {
        out.putInt(mode.ordinal()).putInt(divideConfig).putInt(initialCount).putLong(startNanos).putLong(deadlineNanos)
                .putLong(tscDeadline);
    }

    void restore(dev.flint.machine.state.StateReader.Section in) {
        int m = in.getInt();
        if (m < 0 || m >= Mode.values().length) throw new dev.flint.machine.state.SnapshotException("APIC timer mode " + m);
        mode = Mode.values()[m];
        divideConfig = in.getInt() & 0xB;
        initialCount = in.getInt();
        startNanos = in.getLong();
        deadlineNanos = in.getLong();
        tscDeadline = in.getLong();
    }

    /** The timer mode in bits 18:17 of the LVT timer entry; the reserved encoding counts as one-shot. */
    static Mode modeOf(int lvtTimer) {
        return switch ((lvtTimer >>> 17) & 3) {
            case 1 -> Mode.PERIODIC;
            case 2 -> Mode.TSC_DEADLINE;
            default -> Mode.ONE_SHOT;
        };
    }

    void reset() {
        mode = Mode.ONE_SHOT;
        divideConfig = 0;
        initialCount = 0;
        deadlineNanos = NONE;
        tscDeadline = 0;
    }

    Mode mode() { return mode; }

    /** Switching into or out of TSC-deadline mode disarms the timer; one-shot ↔ periodic keeps counting. */
    void setMode(Mode next) {
        if ((next == Mode.TSC_DEADLINE) != (mode == Mode.TSC_DEADLINE)) {
            initialCount = 0;
            deadlineNanos = NONE;
            tscDeadline = 0;
        }
        mode = next;
    }

    int divideConfig() { return divideConfig; }

    /** Divide configuration register: bits 3 and 1:0 select 2, 4, ... 128, and 0b1011 selects 1. */
    int divisor() {
        int code = ((divideConfig >>> 1) & 4) | (divideConfig & 3);
        return code == 7 ? 1 : 2 << code;
    }

    /** A new divisor applies from now on: the count reached so far is kept. */
    void setDivideConfig(int value, long now) {
        int remaining = currentCount(now);
        divideConfig = value & 0xB;
        if (deadlineNanos != NONE && mode != Mode.TSC_DEADLINE) {
            long consumed = Integer.toUnsignedLong(initialCount) - Integer.toUnsignedLong(remaining);
            startNanos = now - consumed * divisor();
            deadlineNanos = now + Integer.toUnsignedLong(remaining) * divisor();
        }
    }

    int initialCount() { return initialCount; }

    /** Writing the initial count (re)starts counting; 0 stops the timer. Ignored in TSC-deadline mode. */
    void setInitialCount(int count, long now) {
        if (mode == Mode.TSC_DEADLINE) return;
        initialCount = count;
        startNanos = now;
        deadlineNanos = count == 0 ? NONE : now + Integer.toUnsignedLong(count) * divisor();
    }

    int currentCount(long now) {
        if (mode == Mode.TSC_DEADLINE || initialCount == 0) return 0;
        long initial = Integer.toUnsignedLong(initialCount);
        long elapsed = Math.max(0, now - startNanos) / divisor();
        if (mode == Mode.PERIODIC) return (int) (initial - elapsed % initial);
        return elapsed >= initial ? 0 : (int) (initial - elapsed);
    }

    long tscDeadline() { return tscDeadline; }

    /** IA32_TSC_DEADLINE write: arms at {@code tsc} (reached at host time {@code nanos}); 0 disarms. */
    void setTscDeadline(long tsc, long nanos) {
        if (mode != Mode.TSC_DEADLINE) return;
        tscDeadline = tsc;
        deadlineNanos = tsc == 0 ? NONE : nanos;
    }

    /** Host nanos of the next expiry, or {@link #NONE}. */
    long deadline() { return deadlineNanos; }

    /**
     * Called once host time reaches the deadline: re-arms a periodic timer at its next period boundary
     * (skipping periods missed while the host was busy) and returns true if the timer fired.
     */
    boolean expire(long now) {
        if (deadlineNanos == NONE || now < deadlineNanos) return false;
        switch (mode) {
            case PERIODIC -> {
                long period = Math.max(MIN_PERIOD_NANOS, Integer.toUnsignedLong(initialCount) * divisor());
                deadlineNanos = startNanos + ((now - startNanos) / period + 1) * period;
            }
            case ONE_SHOT -> deadlineNanos = NONE;
            case TSC_DEADLINE -> {
                deadlineNanos = NONE;
                tscDeadline = 0;
            }
        }
        return true;
    }
}
