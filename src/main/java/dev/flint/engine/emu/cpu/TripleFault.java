package dev.flint.engine.emu.cpu;

/** A fault while delivering a double fault: the CPU shuts down. Carries the register dump. */
public final class TripleFault extends RuntimeException {
    public TripleFault(String dump) {
        super(dump, null, false, false);
    }
}
