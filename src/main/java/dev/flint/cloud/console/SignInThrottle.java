package dev.flint.cloud.console;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.Map;

/**
 * Slows down guessing of the daemon's secret: after {@link #FAILURES_PER_WINDOW} failed sign-ins from
 * one address within {@link #WINDOW}, that address is refused until the oldest failure leaves the
 * window. All addresses together get {@link #GLOBAL_FAILURES_PER_WINDOW}, so many addresses do not help.
 * Refusals cost nothing (no sleeping threads).
 */
final class SignInThrottle {

    static final Duration WINDOW = Duration.ofMinutes(1);
    static final int FAILURES_PER_WINDOW = 5;
    static final int GLOBAL_FAILURES_PER_WINDOW = 30;
    private static final int MAX_TRACKED_ADDRESSES = 4096;

    private final Clock clock;
    private final Map<String, Deque<Long>> failuresByAddress = new HashMap<>();
    private final Deque<Long> allFailures = new ArrayDeque<>();

    SignInThrottle(Clock clock) {
        this.clock = clock;
    }

    /** Seconds the address must wait before it may try again; 0 if it may try now. */
    synchronized long waitSeconds(String address) {
        long now = clock.millis();
        prune(allFailures, now);
        Deque<Long> own = failuresByAddress.get(address);
        long oldestBlocking = -1;
        if (own != null) {
            prune(own, now);
            if (own.size() >= FAILURES_PER_WINDOW) {
                oldestBlocking = own.peekFirst();
            }
        }
        if (allFailures.size() >= GLOBAL_FAILURES_PER_WINDOW) {
            oldestBlocking = Math.max(oldestBlocking, allFailures.peekFirst());
        }
        if (oldestBlocking < 0) {
            return 0;
        }
        long waitMillis = oldestBlocking + WINDOW.toMillis() - now;
        return Math.max(1, (waitMillis + 999) / 1000);
    }

    synchronized void failed(String address) {
        long now = clock.millis();
        if (failuresByAddress.size() >= MAX_TRACKED_ADDRESSES) {
            failuresByAddress.values().forEach(d -> prune(d, now));
            failuresByAddress.values().removeIf(Deque::isEmpty);
        }
        failuresByAddress.computeIfAbsent(address, a -> new ArrayDeque<>()).addLast(now);
        allFailures.addLast(now);
    }

    synchronized void succeeded(String address) {
        failuresByAddress.remove(address);
    }

    private static void prune(Deque<Long> failures, long now) {
        while (!failures.isEmpty() && now - failures.peekFirst() >= WINDOW.toMillis()) {
            failures.removeFirst();
        }
    }
}
