package dev.flint.api.model;

import com.fasterxml.jackson.annotation.JsonProperty;

/** {@code PUT /entropy}: a virtio-rng device. */
public record EntropyDevice(@JsonProperty("rate_limiter") RateLimiter rateLimiter) {}
