package dev.flint.api.model;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * {@code PUT /drives/{drive_id}}: a virtio-block drive (or, in Firecracker, a vhost-user one). Flint's
 * extension: {@code "interface": "nvme"} makes it an NVMe controller of its own instead ({@code "virtio"},
 * the default, is Firecracker's behaviour).
 */
public record Drive(
        @JsonProperty("drive_id") String driveId,
        @JsonProperty("path_on_host") String pathOnHost,
        @JsonProperty("is_root_device") Boolean isRootDevice,
        @JsonProperty("is_read_only") Boolean isReadOnly,
        @JsonProperty("partuuid") String partuuid,
        @JsonProperty("cache_type") String cacheType,
        @JsonProperty("io_engine") String ioEngine,
        @JsonProperty("rate_limiter") RateLimiter rateLimiter,
        @JsonProperty("socket") String socket,
        @JsonProperty("interface") String iface) {}
