package dev.flint.api.model;

import com.fasterxml.jackson.annotation.JsonProperty;

/** {@code PUT /network-interfaces/{iface_id}}: a virtio-net device backed by a host TAP device. */
public record NetworkInterface(
        @JsonProperty("iface_id") String ifaceId,
        @JsonProperty("host_dev_name") String hostDevName,
        @JsonProperty("guest_mac") String guestMac,
        @JsonProperty("mtu") Integer mtu,
        @JsonProperty("rx_rate_limiter") RateLimiter rxRateLimiter,
        @JsonProperty("tx_rate_limiter") RateLimiter txRateLimiter) {}
