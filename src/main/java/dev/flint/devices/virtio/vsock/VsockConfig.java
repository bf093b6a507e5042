package dev.flint.devices.virtio.vsock;

import java.nio.file.Path;

/**
 * A virtio-vsock device as Firecracker configures it ({@code PUT /vsock}).
 *
 * @param guestCid the guest's context id: 3 to 2^32 - 2 (0-2 are reserved, and u32 -1 means "any")
 * @param udsPath  the host-side Unix socket Flint listens on for host-initiated connections
 *                 ({@code CONNECT <port>\n}); guest-initiated connections to port P go to {@code <udsPath>_P}
 */
public record VsockConfig(long guestCid, Path udsPath) {
    public VsockConfig {
        if (guestCid < 3 || guestCid > 0xFFFF_FFFEL) {
            throw new VsockException("guest_cid must be between 3 and 4294967294, not " + guestCid);
        }
        if (udsPath == null || udsPath.toString().isEmpty()) throw new VsockException("uds_path must be given");
        // sockaddr_un holds 107 bytes of path; the _PORT suffix of guest-initiated connections adds up to 11.
        if (udsPath.toString().length() > 96) throw new VsockException("uds_path is longer than 96 bytes");
    }
}
