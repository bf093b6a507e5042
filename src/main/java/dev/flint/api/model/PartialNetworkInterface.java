package dev.flint.api.model;

import com.fasterxml.jackson.annotation.JsonProperty;

/** {@code PATCH /network-interfaces/{iface_id}}: new rate limiters for a running interface. */
public record PartialNetworkInterface(
        @JsonProperty("iface_id") String ifaceId,
        @JsonProperty("rx_rate_limiter") RateLimiter rxRateLimiter,
        @JsonProperty("tx_rate_limiter") RateLimiter txRateLimiter) {}
