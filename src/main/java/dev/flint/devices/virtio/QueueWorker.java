package dev.flint.devices.virtio;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A device's I/O thread. Notifications set a bit per queue and unpark the thread (never block the
 * caller); the thread drains the bits and serves each queue. One thread per device, so a slow or
 * misbehaving device never holds up another.
 */
final class QueueWorker implements QueueNotifier, AutoCloseable {
    private static final Logger LOG = Logger.getLogger(QueueWorker.class.getName());

    private final AtomicLong pending = new AtomicLong();
    private final IntConsumer serve;
    private final Thread thread;
    private volatile boolean closed;

    /** {@code serve} runs on the I/O thread for each notified queue (0..63) and must not throw. */
    QueueWorker(String name, IntConsumer serve) {
        this.serve = serve;
        this.thread = Thread.ofPlatform().name(name + "-io").daemon().unstarted(this::run);
        thread.start();
    }

    @Override
    public void queueNotified(int queue) {
        if (queue < 0 || queue >= 64) return;
        pending.getAndUpdate(p -> p | 1L << queue);
        LockSupport.unpark(thread);
    }

    private void run() {
        while (!closed) {
            long bits = pending.getAndSet(0);
            if (bits == 0) {
                LockSupport.park(this);
                continue;
            }
            for (int q = 0; bits != 0; q++, bits >>>= 1) {
                if ((bits & 1) == 0) continue;
                try {
                    serve.accept(q);
                } catch (Throwable t) { // the I/O thread must outlive any single request
                    LOG.log(Level.SEVERE, thread.getName() + ": queue " + q + " failed", t);
                }
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        LockSupport.unpark(thread);
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
