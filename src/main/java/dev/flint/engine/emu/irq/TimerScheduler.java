package dev.flint.engine.emu.irq;

/**
 * Runs a task once host time reaches a deadline. The APIC timers and the PIT use it to raise their
 * interrupts while every vCPU sleeps or runs guest code, so nothing ever polls the clock: an armed
 * timer costs one pending task, a quiet machine costs nothing.
 *
 * <p>Deadlines are on the {@link dev.flint.engine.emu.GuestClock#nanos()} scale. Production uses
 * {@link HostTimerScheduler}; tests use a scheduler driven by a hand-advanced clock.
 */
public interface TimerScheduler {
    /** Runs {@code task} on the scheduler's thread at or after {@code deadlineNanos}. */
    Timer schedule(long deadlineNanos, Runnable task);

    /** A scheduled task. */
    interface Timer {
        /** Prevents the task from running if it has not started yet. */
        void cancel();
    }
}
