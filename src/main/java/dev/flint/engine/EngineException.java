package dev.flint.engine;

/** An engine could not do what was asked; the message is one line meant for the user. */
public class EngineException extends RuntimeException {
    public EngineException(String message) { super(message); }
    public EngineException(String message, Throwable cause) { super(message, cause); }
}
