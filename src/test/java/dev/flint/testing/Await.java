package dev.flint.testing;

import java.time.Duration;
import java.util.function.Supplier;

/**
 * The suite's one way to wait: poll an observed state until it holds, with a generous deadline (tests
 * share two cores with builds, so a deadline is a hang detector, never a speed claim). Polling starts at
 * 1 ms and backs off to 20 ms, so a quick condition costs little and a slow one costs no CPU to speak of.
 * Never sleep a fixed time instead: a sleep is either too short on a loaded machine or wasted on an idle one.
 */
public final class Await {
    /** Long enough for anything a unit-level test waits for on a loaded machine. */
    public static final Duration DEFAULT = Duration.ofSeconds(30);

    private Await() {}

    /** A condition that may read files, sockets or processes. */
    @FunctionalInterface
    public interface Condition {
        boolean holds() throws Exception;
    }

    /** Waits up to {@link #DEFAULT} until {@code condition} holds; fails naming {@code what} otherwise. */
    public static void until(String what, Condition condition) {
        until(what, DEFAULT, condition);
    }

    /** Waits up to {@code timeout} until {@code condition} holds; fails naming {@code what} otherwise. */
    public static void until(String what, Duration timeout, Condition condition) {
        if (!holdsWithin(timeout, condition)) throw new AssertionError("timed out after " + timeout.toSeconds() + " s waiting until " + what);
    }

    /** Like {@link #until} but returns whether it held, for callers that report the failure themselves. */
    public static boolean holdsWithin(Duration timeout, Condition condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        long pauseMillis = 1;
        while (true) {
            try {
                if (condition.holds()) return true;
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Exception e) {
                throw new AssertionError("checking the condition failed: " + e, e);
            }
            if (System.nanoTime() - deadline >= 0) return false;
            try {
                Thread.sleep(pauseMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while waiting", e);
            }
            pauseMillis = Math.min(20, pauseMillis * 2);
        }
    }

    /** Waits until {@code supplier} returns a value other than null and returns it. */
    public static <T> T value(String what, Duration timeout, Supplier<T> supplier) {
        Object[] seen = new Object[1];
        until(what, timeout, () -> (seen[0] = supplier.get()) != null);
        @SuppressWarnings("unchecked") T value = (T) seen[0];
        return value;
    }

    /** Waits until {@code supplier} returns something other than what it returned first. */
    public static <T> void untilChanges(String what, Duration timeout, Supplier<T> supplier) {
        T before = supplier.get();
        until(what, timeout, () -> !java.util.Objects.equals(before, supplier.get()));
    }
}
