package dev.flint.devices.virtio.balloon;

/** A balloon request that cannot be carried out (a bad setting, a driver that is not there yet); one line. */
public final class BalloonException extends RuntimeException {
    public BalloonException(String message) {
        super(message);
    }
}
