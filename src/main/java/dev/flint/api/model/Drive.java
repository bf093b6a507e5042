package dev.flint.api.model;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * {@code PUT /drives/{drive_id}}: a virtio-block drive (or, in Firecracker, a vhost-user one). Flint's
 * extension: {@code "interface": "nvme"} makes it an NVMe controller of its own instead ({@code "virtio"},
 * the default, is Firecracker's behaviour). After InstanceStart an {@code nvme} drive is attached to the
 * running machine as a new namespace of NVMe controller {@code nvme_controller} (another Flint extension;
 * default 0, the first).
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
        @JsonProperty("interface") String iface,
        @JsonProperty("nvme_controller") Integer nvmeController) {

    /** Without the hot-attach controller index. */
    public Drive(String driveId, String pathOnHost, Boolean isRootDevice, Boolean isReadOnly, String partuuid,
                 String cacheType, String ioEngine, RateLimiter rateLimiter, String socket, String iface) {
        this(driveId, pathOnHost, isRootDevice, isReadOnly, partuuid, cacheType, ioEngine, rateLimiter, socket, iface, null);
    }
}
