package dev.flint.arch.x86;

/** The kernel or initrd cannot be booted as given. The message is one line meant for the user. */
public final class BootException extends RuntimeException {
    public BootException(String message) {
        super(message);
    }

    public BootException(String message, Throwable cause) {
        super(message, cause);
    }
}
