package dev.flint.engine.emu.cpu;

import java.util.function.LongSupplier;

/**
 * Pause-loop exiting for one vCPU, the software form of Intel's PLE and AMD's pause filter: a guest that spins
 * on a lock (PAUSE in a loop, Linux's {@code cpu_relax()}) while the vCPU holding it is not running on the host
 * only burns a host core the holder needs. When a vCPU has run {@link #WINDOW} PAUSEs in a row, each within
 * {@link #GAP_NANOS} of the one before (a tight spin loop, not PAUSEs scattered through other work), its host
 * thread gives up its core once, as KVM yields to another vCPU on a PLE exit.
 *
 * <p>Nothing of the guest's changes: PAUSE stays a NOP for it, and the yield happens between two instructions'
 * effects, so interrupts are still taken at the next slice boundary. With one vCPU nobody can hold the lock
 * elsewhere, so nothing is counted.
 */
final class PauseLoopExit {
    /** PAUSEs further apart than this are not one spin loop (KVM's ple_gap is 128 cycles; ours run ~10x slower). */
    static final long GAP_NANOS = 2_000;
    /**
     * PAUSEs in one loop before the thread yields (KVM's ple_window, 4,096 cycles, is ~30-100 PAUSEs; 16 and 256
     * measured no different). {@code -Dflint.emu.pleWindow=N} is the diagnostic switch for A/B runs, 0 = off.
     */
    static final int WINDOW = Integer.getInteger("flint.emu.pleWindow", 64);

    private final boolean enabled;
    private final LongSupplier nanos;
    private final Runnable yield;
    private long lastPause = Long.MIN_VALUE / 2;
    private int run;
    private long exits;
    private long pauses;

    /** The engine's: the host clock, {@link Thread#yield}, on when the machine has more than one vCPU. */
    PauseLoopExit(int cpuCount) {
        this(cpuCount > 1 && WINDOW > 0, System::nanoTime, Thread::yield);
    }

    PauseLoopExit(boolean enabled, LongSupplier nanos, Runnable yield) {
        this.enabled = enabled;
        this.nanos = nanos;
        this.yield = yield;
    }

    /** A PAUSE ran: counts it, and yields the host thread when it closes a window of a spin loop. */
    void pause() {
        pauses++;
        if (!enabled) {
            Thread.onSpinWait();
            return;
        }
        long now = nanos.getAsLong();
        if (now - lastPause > GAP_NANOS) run = 0;
        lastPause = now;
        if (++run < WINDOW) {
            Thread.onSpinWait();
            return;
        }
        run = 0;
        exits++;
        yield.run();
        lastPause = nanos.getAsLong(); // the time yielded is not a gap in the loop
    }

    /** Yields taken so far (the profiler's and the tests' count). */
    long exits() { return exits; }

    /** PAUSEs run so far (the spin loops' share of a profile). */
    long pauses() { return pauses; }
}
