package dev.flint.devices.vhostuser;

/**
 * The vhost-user peer broke the protocol or went away; the message is one line for the user. Whoever
 * catches it closes the connection: a peer that sent one bad message is not trusted with another.
 */
public final class VhostUserException extends RuntimeException {
    public VhostUserException(String message) {
        super(message);
    }
}
