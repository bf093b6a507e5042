package dev.flint.guest;

/** Fetching or preparing the guest failed; the message is one line for the user. */
public final class GuestFetchException extends RuntimeException {
    public GuestFetchException(String message) { super(message); }
    public GuestFetchException(String message, Throwable cause) { super(message, cause); }
}
