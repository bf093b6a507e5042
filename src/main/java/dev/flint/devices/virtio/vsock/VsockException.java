package dev.flint.devices.virtio.vsock;

/** The vsock device cannot be set up as configured (bad CID, uds_path not bindable); one line for the user. */
public final class VsockException extends RuntimeException {
    public VsockException(String message) {
        super(message);
    }

    public VsockException(String message, Throwable cause) {
        super(message, cause);
    }
}
