package dev.flint.cloud.console;

/** One attachment to an instance's serial port: keys go in, guest output comes out through the consumer. */
public interface SerialSession extends AutoCloseable {

    /** Types {@code keys} on the guest's serial port (raw bytes, as a terminal sends them). */
    void write(byte[] keys);

    /** Detaches; the guest keeps running. Idempotent. */
    @Override
    void close();
}
