package dev.flint.devices;

import dev.flint.machine.InterruptController;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/** An interrupt controller for device tests: remembers line levels, counts rising edges, records MSIs. */
public final class RecordingInterrupts implements InterruptController {
    public record Msi(long address, int data) {}

    private final Map<Integer, Boolean> levels = new HashMap<>();
    private final Map<Integer, Integer> rises = new HashMap<>();
    public final List<Msi> msis = new ArrayList<>();
    /** MSIs and rising edges so far, and the thread sleeping until the next (see {@link #awaitAfter}). */
    private final AtomicLong signals = new AtomicLong();
    private volatile Thread sleeper;

    @Override
    public synchronized void setLevel(int gsi, boolean high) {
        boolean rising = high && !level(gsi);
        if (rising) rises.merge(gsi, 1, Integer::sum);
        levels.put(gsi, high);
        if (rising) signalled();
    }

    @Override
    public synchronized void sendMsi(long address, int data) {
        msis.add(new Msi(address, data));
        signalled();
    }

    /** MSIs plus rising edges delivered so far. */
    public long signals() { return signals.get(); }

    /**
     * Sleeps until an interrupt comes after the {@code seen}-th ({@link #signals}), or {@code nanos} pass:
     * a driver halted until its device interrupts it. One sleeper at a time.
     */
    public void awaitAfter(long seen, long nanos) {
        sleeper = Thread.currentThread();
        try {
            if (signals.get() == seen) LockSupport.parkNanos(this, nanos); // a signal after this read unparks us
        } finally {
            sleeper = null;
        }
    }

    /**
     * As {@link #awaitAfter}, but first polls for up to {@code pollNanos} without sleeping, as KVM polls a halted
     * vCPU (halt_poll_ns) before it schedules the thread out: an interrupt in that window costs the sender no
     * wake-up of a sleeping thread.
     */
    public void haltPollThenAwait(long seen, long pollNanos, long nanos) {
        long until = System.nanoTime() + pollNanos;
        while (signals.get() == seen) {
            if (System.nanoTime() - until > 0) {
                awaitAfter(seen, nanos);
                return;
            }
            Thread.onSpinWait();
        }
    }

    private void signalled() {
        signals.incrementAndGet();
        Thread t = sleeper;
        if (t != null) LockSupport.unpark(t);
    }

    public synchronized boolean level(int gsi) { return levels.getOrDefault(gsi, false); }

    public synchronized int rises(int gsi) { return rises.getOrDefault(gsi, 0); }
}
