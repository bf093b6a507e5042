package dev.flint.api.model;

import com.fasterxml.jackson.annotation.JsonProperty;

/** {@code PATCH /drives/{drive_id}}: a new backing file or rate limiter for a running drive. */
public record PartialDrive(
        @JsonProperty("drive_id") String driveId,
        @JsonProperty("path_on_host") String pathOnHost,
        @JsonProperty("rate_limiter") RateLimiter rateLimiter) {}
