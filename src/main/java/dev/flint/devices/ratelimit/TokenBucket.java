package dev.flint.devices.ratelimit;

import java.math.BigInteger;

/**
 * One token bucket, refilled lazily from a nanosecond clock the caller passes in (so tests need no sleeps).
 * It starts full; {@code size} tokens come back every {@code refill time}, counted exactly (the fraction of
 * a token earned so far is kept as time not yet converted, never lost or counted twice). The one-time burst
 * is spent first and never returns.
 *
 * <p>A request larger than the whole bucket could never fit. As in Firecracker it is let through anyway, once
 * the bucket is not in debt, and leaves the bucket that many tokens in debt: the next request waits until the
 * debt is paid back, so the average rate still holds. Not thread-safe: {@link RateLimiter} guards it.
 */
final class TokenBucket {
    private static final long NANOS_PER_MS = 1_000_000;

    private final long size;
    private final long refillNanos;
    /** The configuration's one-time burst (what {@link #burst} started at), for snapshots. */
    private final long initialBurst;
    /** Tokens in the bucket; negative while an oversized request is being paid back. */
    private long budget;
    private long burst;
    /** The clock reading up to which refills have been counted. */
    private long refilledUpTo;

    TokenBucket(BucketConfig config, long now) {
        if (!config.limits()) throw new IllegalArgumentException("a bucket that limits nothing: " + config);
        this.size = config.size();
        this.refillNanos = config.refillTimeMs() * NANOS_PER_MS;
        this.budget = size;
        this.burst = config.oneTimeBurst();
        this.initialBurst = config.oneTimeBurst();
        this.refilledUpTo = now;
    }

    /** A bucket of {@code config} holding {@code budget} tokens and {@code burst} of its one-time burst (a snapshot's). */
    TokenBucket(BucketConfig config, long budget, long burst, long now) {
        this(config, now);
        if (budget > size || burst < 0 || burst > config.oneTimeBurst()) {
            throw new IllegalArgumentException("a bucket of " + config + " cannot hold " + budget + " tokens and " + burst + " burst");
        }
        this.budget = budget;
        this.burst = burst;
    }

    BucketConfig config() { return new BucketConfig(size, initialBurst, refillNanos / NANOS_PER_MS); }

    /** The tokens the bucket holds at {@code now} (refills counted first), for a snapshot. */
    long budgetAt(long now) {
        refill(now);
        return budget;
    }

    long budget() { return budget; }

    long burst() { return burst; }

    private void refill(long now) {
        long elapsed = now - refilledUpTo;
        if (elapsed <= 0) return;
        long missing = size - budget;
        if (missing <= 0) { // full: time spent full earns nothing
            refilledUpTo = now;
            return;
        }
        long tokens = mulDiv(elapsed, size, refillNanos, false);
        if (tokens >= missing) {
            budget = size;
            refilledUpTo = now;
        } else {
            budget += tokens;
            refilledUpTo += mulDiv(tokens, refillNanos, size, true); // the time those tokens took, no more
        }
    }

    /** 0 if {@code tokens} can be taken at {@code now}; otherwise the nanoseconds (at least 1) until they can. */
    long waitFor(long tokens, long now) {
        long need = tokens - Math.min(burst, tokens);
        if (need == 0) return 0;
        refill(now);
        long target = need > size ? 0 : need; // an oversized request only needs the bucket out of debt
        if (budget >= target) return 0;
        long due = refilledUpTo + mulDiv(target - budget, refillNanos, size, true);
        return Math.max(1, due - now);
    }

    /** Takes {@code tokens}, burst first; the caller checked {@link #waitFor} said 0 at this {@code now}. */
    void take(long tokens, long now) {
        long fromBurst = Math.min(burst, tokens);
        burst -= fromBurst;
        if (tokens > fromBurst) {
            refill(now);
            budget -= tokens - fromBurst;
        }
    }

    /** {@code a * b / c} rounded down or up, exact for any non-negative longs (c > 0), saturating at Long.MAX_VALUE. */
    static long mulDiv(long a, long b, long c, boolean roundUp) {
        long high = Math.multiplyHigh(a, b), low = a * b;
        if (high == 0 && low >= 0) return low / c + (roundUp && low % c != 0 ? 1 : 0);
        BigInteger[] qr = BigInteger.valueOf(a).multiply(BigInteger.valueOf(b)).divideAndRemainder(BigInteger.valueOf(c));
        BigInteger q = roundUp && qr[1].signum() != 0 ? qr[0].add(BigInteger.ONE) : qr[0];
        return q.bitLength() < 64 ? q.longValue() : Long.MAX_VALUE;
    }
}
