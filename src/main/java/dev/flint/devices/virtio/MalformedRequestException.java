package dev.flint.devices.virtio;

/**
 * A chain that is well-formed as a ring entry but cannot even carry an error back (e.g. a block request
 * with no device-writable byte for its status). The transport returns it with nothing written and
 * counts a guest error; the queue keeps working.
 */
public final class MalformedRequestException extends RuntimeException {
    public MalformedRequestException(String message) {
        super(message, null, false, false);
    }
}
