package dev.flint.api.model;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.TextNode;

/**
 * {@code PUT /drives/{drive_id}}: a virtio-block drive (or, in Firecracker, a vhost-user one). Flint's
 * extension: {@code "interface": "nvme"} makes it an NVMe controller of its own instead ({@code "virtio"},
 * the default, is Firecracker's behaviour). After InstanceStart an {@code nvme} drive is attached to the
 * running machine as a new namespace of NVMe controller {@code nvme_controller} (another Flint extension;
 * default 0, the first), or, with {@code "nvme_controller": "new"}, as an NVMe controller of its own hot-plugged
 * into a free PCI slot (serial = the drive id, as an EBS volume on EC2); {@code "new"} before InstanceStart puts
 * the controller in a hot-pluggable slot from boot, so it leaves the same way. {@code hotplug_state} is read-only:
 * GET /vm/config says {@code "attached"} or {@code "detaching"} for such a drive (see docs/pci-hotplug.md).
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
        @JsonProperty("nvme_controller") JsonNode nvmeController,
        @JsonProperty("hotplug_state") String hotplugState) {

    /** The value of {@code nvme_controller} that asks for a controller of the drive's own, hot-plugged. */
    public static final String NEW_CONTROLLER = "new";

    /** Without the hot-attach fields. */
    public Drive(String driveId, String pathOnHost, Boolean isRootDevice, Boolean isReadOnly, String partuuid,
                 String cacheType, String ioEngine, RateLimiter rateLimiter, String socket, String iface) {
        this(driveId, pathOnHost, isRootDevice, isReadOnly, partuuid, cacheType, ioEngine, rateLimiter, socket, iface, null, null);
    }

    /** Whether {@code nvme_controller} is {@code "new"}. */
    public boolean wantsNewController() {
        return nvmeController != null && nvmeController.isTextual() && NEW_CONTROLLER.equals(nvmeController.asText());
    }

    /** The same drive as GET /vm/config shows it with {@code state} (null: not hot-plugged). */
    public Drive withHotplugState(String state) {
        return new Drive(driveId, pathOnHost, isRootDevice, isReadOnly, partuuid, cacheType, ioEngine, rateLimiter, socket, iface,
                nvmeController, state);
    }

    /** {@code "nvme_controller": "new"}. */
    public static JsonNode newController() { return TextNode.valueOf(NEW_CONTROLLER); }
}
