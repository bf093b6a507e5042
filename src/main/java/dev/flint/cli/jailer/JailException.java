package dev.flint.cli.jailer;

/** The jail cannot be built as asked; the message is one line for the user. */
public final class JailException extends RuntimeException {
    public JailException(String message) {
        super(message);
    }

    public JailException(String message, Throwable cause) {
        super(message, cause);
    }
}
