package dev.flint.devices;

/**
 * How a benchmark's driver waits for its device's interrupt: it stands for a guest vCPU that halts on KVM until the
 * device interrupts it. KVM polls a halted vCPU for a while before it schedules the vCPU's thread out, and it adapts
 * that window to each vCPU's halts (virt/kvm/kvm_main.c, {@code kvm_vcpu_halt}; Documentation/virt/kvm/halt-polling.rst).
 * The window starts at 0. A halt that ended within it leaves it as it is. A halt longer than the window but shorter
 * than the maximum ({@code halt_poll_ns}, 200 µs on x86) grows it: doubled ({@code halt_poll_ns_grow}), at least
 * 10 µs ({@code halt_poll_ns_grow_start}), at most the maximum. A halt longer than the maximum resets it to 0
 * ({@code halt_poll_ns_shrink} 0). So a device that answers within 200 µs soon finds the vCPU still polling (no
 * wake-up of a sleeping thread), and one that takes longer finds it asleep, its core free for the device's threads.
 *
 * <p>Not modelled: KVM also stops polling as soon as another task is runnable on the vCPU's CPU, which a JVM thread
 * cannot see. {@code -Dflint.bench.halt-poll-ns=N} fixes the window at N nanoseconds instead (0: sleep at once; the
 * drivers of docs/block-path.md rounds 3 to 9 polled a fixed 50 µs), for comparison.
 */
public final class HaltPolling {
    public static final String PROPERTY = "flint.bench.halt-poll-ns";
    static final long MAX_NANOS = 200_000, GROW_START_NANOS = 10_000;
    static final int GROW = 2;

    private final long fixedNanos; // -1: adaptive
    private long window;
    /** Halts so far, and those that lasted past their window (the driver went to sleep). */
    private long halts, slept;

    private HaltPolling(long fixedNanos) {
        this.fixedNanos = fixedNanos;
        this.window = Math.max(0, fixedNanos);
    }

    /** KVM's adaptive window. */
    public static HaltPolling adaptive() { return new HaltPolling(-1); }

    /** A window that never changes. */
    public static HaltPolling fixed(long nanos) {
        if (nanos < 0) throw new IllegalArgumentException("a polling window is not negative: " + nanos);
        return new HaltPolling(nanos);
    }

    /** {@value #PROPERTY} if set, else KVM's adaptive window. */
    public static HaltPolling fromProperty() {
        Long fixed = Long.getLong(PROPERTY);
        return fixed == null ? adaptive() : fixed(fixed);
    }

    /** The policy, for a benchmark's output. */
    @Override
    public String toString() {
        return fixedNanos < 0 ? "KVM's adaptive halt polling (0 to 200 µs)" : "halt polling fixed at " + fixedNanos / 1000.0 + " µs";
    }

    /** The window the next halt polls for, in nanoseconds. */
    public long window() { return window; }

    /** Halts so far. */
    public long halts() { return halts; }

    /** Halts so far that lasted past their polling window: the driver slept, and its interrupt had to wake it. */
    public long slept() { return slept; }

    /**
     * Halts until an interrupt comes after the {@code seen}-th ({@link RecordingInterrupts#signals}), polling for the
     * window first, or until {@code timeoutNanos} pass; then adapts the window to how long the halt took.
     */
    public void halt(RecordingInterrupts irq, long seen, long timeoutNanos) {
        long start = System.nanoTime();
        irq.haltPollThenAwait(seen, window, timeoutNanos);
        long halted = System.nanoTime() - start;
        halts++;
        if (halted > window) slept++;
        if (fixedNanos < 0) window = next(window, halted);
    }

    /** KVM's rule: the window after a halt of {@code haltedNanos} under {@code window}. */
    static long next(long window, long haltedNanos) {
        if (haltedNanos <= window) return window; // the poll caught it
        if (window > 0 && haltedNanos > MAX_NANOS) return 0; // a long block: polling was wasted
        if (window < MAX_NANOS && haltedNanos < MAX_NANOS) return Math.min(Math.max(window * GROW, GROW_START_NANOS), MAX_NANOS);
        return window;
    }
}
