package dev.flint.api.model;

import com.fasterxml.jackson.annotation.JsonProperty;

/** Bandwidth and operations token buckets of a device. */
public record RateLimiter(
        @JsonProperty("bandwidth") TokenBucket bandwidth,
        @JsonProperty("ops") TokenBucket ops) {

    /** Whether this limiter would limit anything ({@code {}} limits nothing). */
    public static boolean limits(RateLimiter limiter) {
        return limiter != null && (limiter.bandwidth != null || limiter.ops != null);
    }
}
