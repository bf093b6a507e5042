package dev.flint.api;

import dev.flint.api.model.RateLimiter;
import dev.flint.api.model.TokenBucket;
import dev.flint.devices.ratelimit.BucketConfig;
import dev.flint.devices.ratelimit.RateLimit;

/**
 * The API's rate limiter bodies ({@code rate_limiter}, {@code rx_rate_limiter}, {@code tx_rate_limiter}) checked
 * and translated for the devices. Firecracker's rules: a bucket needs {@code size} and {@code refill_time},
 * every figure is non-negative, and a bucket whose size or refill time is 0 limits nothing. In a PATCH a
 * bucket left out stays as it is, a bucket given replaces the old one, and a zero one removes it.
 */
final class RateLimits {
    private RateLimits() {}

    /** The limit a PUT body asks for ({@link RateLimit#NONE} for none); a 400 naming the field if it is bad. */
    static RateLimit of(RateLimiter limiter, String field) {
        if (limiter == null) return RateLimit.NONE;
        return new RateLimit(bucket(limiter.bandwidth(), field + ".bandwidth"), bucket(limiter.ops(), field + ".ops"));
    }

    /** One bucket of a body, checked; null when the body has none. */
    static BucketConfig bucket(TokenBucket bucket, String field) {
        if (bucket == null) return null;
        long size = VmResources.required(bucket.size(), field + ".size");
        long refill = VmResources.required(bucket.refillTime(), field + ".refill_time");
        long burst = bucket.oneTimeBurst() == null ? 0 : bucket.oneTimeBurst();
        try {
            return new BucketConfig(size, burst, refill);
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(field + ": " + e.getMessage());
        }
    }

    /** What GET /vm/config shows after a PATCH: the buckets the patch names replace the old ones. */
    static RateLimiter patched(RateLimiter old, RateLimiter patch) {
        if (patch == null) return old;
        if (old == null) old = new RateLimiter(null, null);
        return new RateLimiter(kept(old.bandwidth(), patch.bandwidth()), kept(old.ops(), patch.ops()));
    }

    private static TokenBucket kept(TokenBucket old, TokenBucket patch) {
        if (patch == null) return old;
        boolean limits = patch.size() != null && patch.size() > 0 && patch.refillTime() != null && patch.refillTime() > 0;
        return limits ? patch : null;
    }
}
