package dev.flint.api.model;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * {@code PUT /vsock}: a virtio-vsock device whose host side is Unix sockets ({@code uds_path}, and
 * {@code uds_path_PORT} for guest-initiated connections). {@code vsock_id} is deprecated in
 * Firecracker's API and accepted without effect.
 */
public record Vsock(@JsonProperty("guest_cid") Long guestCid, @JsonProperty("uds_path") String udsPath,
                    @JsonProperty("vsock_id") String vsockId) {}
