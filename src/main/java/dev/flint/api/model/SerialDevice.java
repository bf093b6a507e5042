package dev.flint.api.model;

import com.fasterxml.jackson.annotation.JsonProperty;

/** {@code PUT /serial}: where the guest's serial console output goes. */
public record SerialDevice(
        @JsonProperty("serial_out_path") String serialOutPath,
        @JsonProperty("rate_limiter") TokenBucket rateLimiter) {}
