package dev.flint.devices.virtio;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Counts SEVERE records under dev.flint.devices.virtio while open: the device logs one whenever an
 * unexpected exception reaches its I/O thread, so a hostile-input test asserts the count stays 0.
 */
public final class SevereLogCounter extends Handler implements AutoCloseable {
    private final Logger logger = Logger.getLogger("dev.flint.devices.virtio");
    private final AtomicInteger count = new AtomicInteger();

    public SevereLogCounter() {
        logger.addHandler(this);
    }

    public int count() { return count.get(); }

    @Override
    public void publish(LogRecord record) {
        if (record.getLevel().intValue() >= Level.SEVERE.intValue()) count.incrementAndGet();
    }

    @Override public void flush() { }

    @Override
    public void close() {
        logger.removeHandler(this);
    }
}
