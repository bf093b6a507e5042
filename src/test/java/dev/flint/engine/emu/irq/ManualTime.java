package dev.flint.engine.emu.irq;

import dev.flint.engine.emu.GuestClock;
import java.util.PriorityQueue;

/** A hand-advanced clock with its own timer scheduler: timer tests run instantly and deterministically. */
final class ManualTime implements TimerScheduler {
    private long now = 5_000_000_000L; // an arbitrary non-zero origin, as System.nanoTime has
    private long sequence;
    private final PriorityQueue<Task> queue = new PriorityQueue<>();
    final GuestClock clock = new GuestClock(this::now);

    private static final class Task implements Comparable<Task> {
        final long deadline;
        final long order;
        final Runnable action;
        boolean cancelled;

        Task(long deadline, long order, Runnable action) {
            this.deadline = deadline;
            this.order = order;
            this.action = action;
        }

        @Override
        public int compareTo(Task o) {
            int c = Long.compare(deadline, o.deadline);
            return c != 0 ? c : Long.compare(order, o.order);
        }
    }

    long now() { return now; }

    @Override
    public Timer schedule(long deadlineNanos, Runnable task) {
        Task t = new Task(deadlineNanos, sequence++, task);
        queue.add(t);
        return () -> t.cancelled = true;
    }

    /** Moves time forward, running every task that falls due at its own deadline. */
    void advance(long nanos) {
        long target = now + nanos;
        while (!queue.isEmpty() && queue.peek().deadline <= target) {
            Task t = queue.poll();
            if (t.cancelled) continue;
            now = Math.max(now, t.deadline);
            t.action.run();
        }
        now = target;
    }

    /** Tasks still waiting (cancelled ones excluded). */
    long pendingTasks() { return queue.stream().filter(t -> !t.cancelled).count(); }
}
