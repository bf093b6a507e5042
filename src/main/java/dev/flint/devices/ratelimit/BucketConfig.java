package dev.flint.devices.ratelimit;

/**
 * One token bucket as Firecracker's API describes it: it holds at most {@code size} tokens, starts full,
 * and refills from empty to full in {@code refillTimeMs} milliseconds at a constant rate; {@code oneTimeBurst}
 * extra tokens are there once, at the start, and are spent before the bucket's own. A bucket with a size or
 * refill time of 0 limits nothing (Firecracker's rule), which is also how an update removes a bucket.
 */
public record BucketConfig(long size, long oneTimeBurst, long refillTimeMs) {
    /** Refill times up to this many milliseconds (about 292 years) still fit a nanosecond count. */
    public static final long MAX_REFILL_TIME_MS = Long.MAX_VALUE / 1_000_000;

    public BucketConfig {
        if (size < 0) throw new IllegalArgumentException("size must not be negative, not " + size);
        if (oneTimeBurst < 0) throw new IllegalArgumentException("one_time_burst must not be negative, not " + oneTimeBurst);
        if (refillTimeMs < 0 || refillTimeMs > MAX_REFILL_TIME_MS) {
            throw new IllegalArgumentException("refill_time must be between 0 and " + MAX_REFILL_TIME_MS + " ms, not " + refillTimeMs);
        }
    }

    /** Whether this bucket limits anything. */
    public boolean limits() { return size > 0 && refillTimeMs > 0; }

    /** For messages and logs: "1048576 per 1000 ms (+ 0 once)". */
    @Override
    public String toString() { return size + " per " + refillTimeMs + " ms (+ " + oneTimeBurst + " once)"; }
}
