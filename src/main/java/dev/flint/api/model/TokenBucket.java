package dev.flint.api.model;

import com.fasterxml.jackson.annotation.JsonProperty;

/** A rate limiter's token bucket (size, one-time burst, refill time in ms). */
public record TokenBucket(
        @JsonProperty("size") Long size,
        @JsonProperty("one_time_burst") Long oneTimeBurst,
        @JsonProperty("refill_time") Long refillTime) {}
