package dev.flint.devices.virtio.net;

/**
 * The host refused the TAP device (no permission, a name that is taken by something else, no
 * /dev/net/tun). The message is one line for the user and names the device.
 */
public final class TapException extends RuntimeException {
    public TapException(String message, Throwable cause) {
        super(message, cause);
    }
}
