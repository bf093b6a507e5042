package dev.flint.engine.emu;

/**
 * Adaptive halt polling for one vCPU, the software form of KVM's {@code halt_poll_ns}: a vCPU that runs HLT spins
 * for a short window before it parks its host thread, so an interrupt that comes soon (the other vCPU's
 * reschedule IPI when two guest processes pass data through a pipe, one on each vCPU) is taken without a host
 * wake-up (futex, scheduler, the idle core's exit), which costs tens of microseconds each time.
 *
 * <p>The window adapts as KVM's does: it starts at 0, grows (to {@link #START_NANOS}, then doubling up to the
 * maximum) after a halt that parked but was woken within the maximum, and halves after a halt longer than the
 * maximum (an idle guest). So an idle VM does not burn a host core, and a guest that idles only for short
 * moments polls. {@code -Dflint.emu.haltPollNanos=N} sets the maximum (0 = off, the default), a switch for A/B runs;
 * {@code -Dflint.emu.haltPollInitialNanos=N} the first window (0), which tests set to the maximum.
 */
final class HaltPoll {
    /** The first window after 0 (KVM's {@code halt_poll_ns_grow_start}). */
    static final long START_NANOS = 10_000L;

    private final long max;
    private long window;

    HaltPoll(long max, long initial) {
        this.max = Math.max(0, max);
        this.window = Math.min(this.max, Math.max(0, initial));
    }

    /**
     * One vCPU's, from the switches above (read when the machine is made). Off by default: session 16 could not
     * show it paying (the host was at load 20-30, docs/emu-speed.md "emusmp"); {@code -Dflint.emu.haltPollNanos=200000}
     * is KVM's default, to A/B on a quiet host at 2 vCPUs.
     */
    static HaltPoll fromSystemProperties() {
        return new HaltPoll(Long.getLong("flint.emu.haltPollNanos", 0L),
                Long.getLong("flint.emu.haltPollInitialNanos", 0L));
    }

    /** The window the next halt polls for, in nanoseconds. */
    long window() { return window; }

    /**
     * After a halt: {@code polled} when it ended while polling (the window stays), else {@code haltNanos} is how
     * long it lasted in all, polling and parked.
     */
    void update(boolean polled, long haltNanos) {
        if (polled || max == 0) return;
        if (haltNanos <= max) window = window == 0 ? Math.min(START_NANOS, max) : Math.min(max, window * 2);
        else window /= 2;
        if (window < START_NANOS / 2) window = 0;
    }
}
