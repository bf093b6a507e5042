package dev.flint.engine.emu.irq;

import dev.flint.engine.emu.GuestClock;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The machine's one timer thread: a single daemon thread that sleeps until the earliest APIC-timer or
 * PIT deadline of the whole machine, then raises that interrupt (which wakes a halted vCPU). One thread
 * per machine rather than per vCPU because the host has few cores and timer work is tiny.
 */
public final class HostTimerScheduler implements TimerScheduler, AutoCloseable {
    private static final Logger LOG = Logger.getLogger(HostTimerScheduler.class.getName());

    private final GuestClock clock;
    private final ScheduledThreadPoolExecutor executor;

    public HostTimerScheduler(GuestClock clock) {
        this.clock = clock;
        this.executor = new ScheduledThreadPoolExecutor(1, task -> {
            Thread t = new Thread(task, "flint-irq-timers");
            t.setDaemon(true);
            return t;
        });
        // Guests re-arm timers constantly (tickless Linux): drop cancelled tasks at once, not at expiry.
        executor.setRemoveOnCancelPolicy(true);
    }

    @Override
    public Timer schedule(long deadlineNanos, Runnable task) {
        long delay = Math.max(0, deadlineNanos - clock.nanos());
        Runnable guarded = () -> {
            try {
                task.run();
            } catch (RuntimeException e) {
                LOG.log(Level.SEVERE, "interrupt timer task failed", e);
            }
        };
        try {
            var future = executor.schedule(guarded, delay, TimeUnit.NANOSECONDS);
            return () -> future.cancel(false);
        } catch (RejectedExecutionException e) {
            return () -> { }; // the machine is shutting down: vCPUs still running arm timers that never fire
        }
    }

    @Override
    public void close() { executor.shutdownNow(); }
}
