package dev.flint.devices.mmds;

/** A refused MMDS change (bad data, over the size limit); the message is one line for the client. */
public final class MmdsException extends RuntimeException {
    public MmdsException(String message) {
        super(message, null, false, false);
    }
}
