package dev.flint.devices.virtio.block;

/** A disk image that cannot be used; the message is one line for the user. */
public final class DiskImageException extends RuntimeException {
    public DiskImageException(String message) {
        super(message);
    }
}
