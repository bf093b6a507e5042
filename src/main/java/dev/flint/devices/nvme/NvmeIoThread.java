package dev.flint.devices.nvme;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The controller's I/O thread: it sleeps until a doorbell (or a host-side event) wakes it, then serves
 * every queue until nothing is left. Waking never blocks the caller (a vCPU thread): only the wake that
 * finds the thread idle unparks it, later ones ride along. One thread per controller, so a slow image
 * never holds up another device or a vCPU.
 */
final class NvmeIoThread implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(NvmeIoThread.class.getName());

    private final AtomicBoolean pending = new AtomicBoolean();
    private final BooleanSupplier serve;
    private final Thread thread;
    private volatile boolean closed;

    /** {@code serve} runs one pass over the queues and returns true if work is left; it must not throw. */
    NvmeIoThread(String name, BooleanSupplier serve) {
        this.serve = serve;
        this.thread = Thread.ofPlatform().name(name + "-io").daemon().unstarted(this::run);
    }

    void start() { thread.start(); }

    /** Any thread: there is work. */
    void wake() {
        if (!pending.getAndSet(true)) LockSupport.unpark(thread);
    }

    private void run() {
        while (!closed) {
            pending.set(false);
            boolean more;
            try {
                more = serve.getAsBoolean();
            } catch (Throwable t) { // the thread must outlive any single command
                LOG.log(Level.SEVERE, thread.getName() + ": serving the queues failed", t);
                more = false;
            }
            if (!more && !pending.get() && !closed) LockSupport.park(this);
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
