package dev.flint.devices.nvme;

import dev.flint.devices.IoThreads;
import dev.flint.sys.Epoll;
import dev.flint.sys.EventFd;

import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The controller's I/O thread: it sleeps in an {@link Epoll} until a doorbell (or a host-side event)
 * wakes it, then serves every queue until nothing is left. Waking never blocks the caller (a vCPU
 * thread): only the wake that finds the thread idle signals its eventfd, later ones ride along. One
 * thread per controller, so a slow image never holds up another device or a vCPU. The poller is where
 * further sources (an engine's doorbell eventfds, say) join the same wait.
 */
final class NvmeIoThread implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(NvmeIoThread.class.getName());
    private static final long WAKE = 0, KICK = 1;

    private final AtomicBoolean pending = new AtomicBoolean();
    private final BooleanSupplier serve;
    /** After a pass: -1 to sleep until woken, else the milliseconds until a rate-limited queue may go on. */
    private final java.util.function.IntSupplier timeout;
    private final EventFd wake = new EventFd();
    /** Signalled by the engine itself when the guest rings an I/O queue's doorbell (kvm ioeventfd). */
    private final EventFd kick = new EventFd();
    private final java.util.concurrent.atomic.AtomicLong kicks = new java.util.concurrent.atomic.AtomicLong();
    private final Epoll poller = new Epoll(4);
    private final Thread thread;
    private final dev.flint.devices.IoPause pause = new dev.flint.devices.IoPause();
    private volatile boolean closed;

    /**
     * {@code serve} runs one pass over the queues and returns true if work is left; it must not throw.
     * {@code timeout} bounds the sleep after a pass that left rate-limited commands waiting (-1: none).
     */
    NvmeIoThread(String name, BooleanSupplier serve, java.util.function.IntSupplier timeout) {
        this.serve = serve;
        this.timeout = timeout;
        poller.add(wake.fd(), Set.of(Epoll.Interest.READABLE), WAKE);
        poller.add(kick.fd(), Set.of(Epoll.Interest.READABLE), KICK);
        this.thread = Thread.ofPlatform().name(name + "-io").daemon().unstarted(this::run);
    }

    void start() { thread.start(); }

    /** The eventfd an engine signals for doorbell rings it diverts. */
    EventFd kick() { return kick; }

    /** Rings that came by {@link #kick()}, i.e. without passing through Flint's MMIO bus. */
    long kicksByEventFd() { return kicks.get(); }

    /** Any thread: there is work. */
    void wake() {
        if (closed) return; // a doorbell that raced a hot removal: nothing serves it any more
        if (!pending.getAndSet(true)) wake.signal();
    }

    private void run() {
        try {
            while (!closed) {
                pause.holdIfPaused();
                if (closed) break;
                pending.set(false);
                boolean more;
                try {
                    more = serve.getAsBoolean();
                } catch (Throwable t) { // the thread must outlive any single command
                    LOG.log(Level.SEVERE, thread.getName() + ": serving the queues failed", t);
                    more = false;
                }
                if (more || pending.get() || closed || pause.requested()) continue;
                for (Epoll.Ready ready : poller.await(timeout.getAsInt())) {
                    if (ready.token() == WAKE) wake.drain();
                    else if (ready.token() == KICK) kicks.addAndGet(kick.drain());
                }
            }
        } catch (RuntimeException e) { // only the poller or the eventfd failing gets here
            if (!closed) LOG.log(Level.SEVERE, thread.getName() + ": I/O thread failed; the controller stops", e);
        }
    }

    /** Returns once the thread is between passes and holds there until {@link #resume}. */
    void pause() { pause.pause(thread, wake::signal); }

    void resume() { pause.resume(); }

    @Override
    public void close() {
        closed = true;
        pause.release();
        if (IoThreads.stop(thread, wake::signal)) {
            poller.close();
            wake.close();
            kick.close();
        }
    }
}
