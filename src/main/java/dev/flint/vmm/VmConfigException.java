package dev.flint.vmm;

/** A machine configuration that cannot work; the message is one line for the user. */
public final class VmConfigException extends IllegalArgumentException {
    public VmConfigException(String message) { super(message); }
}
