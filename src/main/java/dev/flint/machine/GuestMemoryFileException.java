package dev.flint.machine;

/** A snapshot's memory file that cannot back guest RAM (missing, unreadable, the wrong size); one line. */
public final class GuestMemoryFileException extends RuntimeException {
    public GuestMemoryFileException(String message) { super(message); }
}
