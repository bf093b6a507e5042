package dev.flint.machine.state;

/** A snapshot that cannot be written or taken back: the message is one line for the user. */
public final class SnapshotException extends RuntimeException {
    public SnapshotException(String message) { super(message); }

    public SnapshotException(String message, Throwable cause) { super(message, cause); }
}
