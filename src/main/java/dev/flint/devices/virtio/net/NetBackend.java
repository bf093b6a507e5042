package dev.flint.devices.virtio.net;

/**
 * Where virtio-net's frames go and come from: a file descriptor that carries one frame per read or
 * write, each frame preceded by the 12-byte virtio_net_hdr. {@link TapDevice} is the real one; tests use
 * one end of a SOCK_SEQPACKET pair, which keeps the frame boundaries the same way.
 *
 * <p>The descriptor is non-blocking: the device polls it on its receive thread.
 */
public interface NetBackend extends AutoCloseable {
    /** The open, non-blocking descriptor. */
    int fd();

    /**
     * Which offloaded frames the guest can take (TUN_F_* bits: partial checksums, TSO4, TSO6). The
     * backend may then hand over frames that need them; without a bit it must finish that work itself.
     */
    void enableOffloads(int tunFlags);

    /** For log lines: "TAP tap0". */
    String describe();

    @Override
    void close();
}
