package dev.flint.devices.virtio;

/**
 * The driver broke the ring protocol (a descriptor index out of range, a looping or over-long chain, an
 * available index that moved by more than the queue size...). The device cannot tell which requests are
 * real any more, so it stops the queue and asks for a reset (DEVICE_NEEDS_RESET) instead of guessing.
 */
public final class VirtqueueException extends RuntimeException {
    public VirtqueueException(String message) {
        super(message, null, false, false);
    }
}
