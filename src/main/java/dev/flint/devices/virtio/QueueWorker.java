package dev.flint.devices.virtio;

import dev.flint.devices.IoThreads;
import dev.flint.sys.EventFd;
import dev.flint.sys.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntConsumer;
import java.util.logging.Level;
import java.util.logging.Logger;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * A device's I/O thread. It sleeps in poll() on one eventfd per queue ("kick" eventfds, which an engine
 * can have the guest signal directly: KVM ioeventfd), on a wake eventfd for notifications that come
 * through Flint ({@link #queueNotified}: the notify register's bus write, or the worker re-queueing
 * itself), and on the device's host source if it has one (a TAP: {@link VirtioDevice#hostSource}), while
 * the device wants it. Notifiers never block; the thread drains what is pending and serves each queue. One
 * thread per device, waiting on all of that device's sources, so a slow or misbehaving device never holds
 * up another and a device needs no second thread.
 */
final class QueueWorker implements QueueNotifier, AutoCloseable {
    private static final Logger LOG = Logger.getLogger(QueueWorker.class.getName());

    private final AtomicLong pending = new AtomicLong();
    private final AtomicLong kicksByEventFd = new AtomicLong();
    /** Wake-ups the thread has finished serving: tests wait on it to know a notification was looked at. */
    private final AtomicLong passes = new AtomicLong();
    private final IntConsumer serve;
    private final EventFd wake = new EventFd();
    private final EventFd[] kicks;
    private final Thread thread;
    private final dev.flint.devices.IoPause pause = new dev.flint.devices.IoPause();
    private volatile boolean closed;
    /** Per queue, the System.nanoTime() at which to serve it again (a rate limiter's wait); I/O thread only. */
    private final long[] deferredUntil;
    private long deferredQueues;
    /** The device's host source, or null. */
    private final VirtioDevice.HostSource source;
    /** After the source reported an error or hang-up, it is not waited on before this System.nanoTime(); I/O thread only. */
    private long sourceBackoffUntil;
    private boolean sourceBackingOff;
    private static final long SOURCE_ERROR_BACKOFF_NANOS = 50_000_000;

    /** {@code serve} runs on the I/O thread for each notified queue (0..queues-1) and must not throw. */
    QueueWorker(String name, int queues, IntConsumer serve) {
        this(name, queues, serve, null);
    }

    /** Also waits on {@code source} (null for none) while the device wants it. */
    QueueWorker(String name, int queues, IntConsumer serve, VirtioDevice.HostSource source) {
        if (queues < 1 || queues > 63) throw new IllegalArgumentException("1..63 queues");
        this.serve = serve;
        this.source = source;
        this.kicks = new EventFd[queues];
        this.deferredUntil = new long[queues];
        for (int q = 0; q < queues; q++) kicks[q] = new EventFd();
        this.thread = Thread.ofPlatform().name(name + "-io").daemon().unstarted(this::run);
        thread.start();
    }

    /** The eventfd that means "queue {@code queue} has new buffers" when signalled (for an engine's fast path). */
    EventFd kick(int queue) { return kicks[queue]; }

    /** Notifications that arrived by a kick eventfd, i.e. without passing through Flint's MMIO bus. */
    long kicksByEventFd() { return kicksByEventFd.get(); }

    /** Passes the thread made: each drains what was notified and serves those queues, then counts. */
    long passes() { return passes.get(); }

    @Override
    public void queueNotified(int queue) {
        if (queue < 0 || queue >= kicks.length) return;
        // Only the notification that makes the set non-empty wakes the thread; later ones ride along.
        if (pending.getAndUpdate(p -> p | 1L << queue) == 0) wake.signal();
    }

    private void run() {
        try (Arena arena = Arena.ofConfined()) {
            int fds = kicks.length + 1 + (source != null ? 1 : 0);
            MemorySegment pollfds = arena.allocate(Libc.POLLFD_BYTES * fds, 4);
            for (int i = 0; i < fds; i++) {
                pollfds.set(JAVA_INT, Libc.POLLFD_BYTES * i, i == 0 ? wake.fd() : i <= kicks.length ? kicks[i - 1].fd() : -1);
                pollfds.set(JAVA_SHORT, Libc.POLLFD_BYTES * i + 4, (short) Libc.POLLIN);
            }
            while (!closed) {
                long bits = pending.getAndSet(0) | dueDeferred();
                if (bits == 0) bits = waitForWork(pollfds, fds) | pending.getAndSet(0) | dueDeferred();
                if (pause.requested()) {
                    long held = bits;
                    pending.getAndUpdate(p -> p | held); // served after resume
                    pause.holdIfPaused();
                    continue;
                }
                serveAll(bits);
                passes.incrementAndGet();
            }
        } catch (Throwable t) { // only the eventfds themselves failing gets here
            if (!closed) LOG.log(Level.SEVERE, thread.getName() + ": I/O thread failed; the device stops", t);
        }
    }

    /**
     * Sleeps until an eventfd is readable; returns the queues whose kick eventfds were signalled. A wake
     * signalled while the thread was busy makes one poll return at once with nothing pending: harmless.
     */
    private long waitForWork(MemorySegment pollfds, int fds) {
        long at = (long) Libc.POLLFD_BYTES * (kicks.length + 1);
        boolean watching = source != null && watchSource();
        if (source != null) pollfds.set(JAVA_INT, at, watching ? source.fd() : -1); // a negative fd is skipped
        Libc.poll(pollfds, fds, pollTimeoutMillis());
        if ((pollfds.get(JAVA_SHORT, 6) & Libc.POLLIN) != 0) wake.drain();
        long bits = 0;
        if (watching) {
            short events = pollfds.get(JAVA_SHORT, at + 6);
            if ((events & Libc.POLLIN) != 0) bits |= source.readable();
            if ((events & (Libc.POLLERR | Libc.POLLHUP | Libc.POLLNVAL)) != 0) {
                // A broken source must not become a busy loop: look at it again a little later.
                sourceBackingOff = true;
                sourceBackoffUntil = System.nanoTime() + SOURCE_ERROR_BACKOFF_NANOS;
            }
        }
        for (int q = 0; q < kicks.length; q++) {
            if ((pollfds.get(JAVA_SHORT, Libc.POLLFD_BYTES * (q + 1) + 6) & Libc.POLLIN) == 0) continue;
            long n = kicks[q].drain();
            if (n > 0) {
                kicksByEventFd.addAndGet(n);
                bits |= 1L << q;
            }
        }
        return bits;
    }

    /**
     * Has the I/O thread serve {@code queue} again once {@code nanos} have passed, without a notification: a
     * device whose rate limiter said "not yet" left its requests on the ring. The thread sleeps in poll(2)
     * with a timeout meanwhile, so nothing spins. I/O thread only (the device calls it while serving);
     * a later call for the same queue replaces the earlier time.
     */
    void serveAgainIn(int queue, long nanos) {
        if (queue < 0 || queue >= kicks.length) return;
        deferredUntil[queue] = System.nanoTime() + Math.max(0, nanos);
        deferredQueues |= 1L << queue;
    }

    /** The deferred queues whose time has come, taken off the deferred set. */
    private long dueDeferred() {
        if (deferredQueues == 0) return 0;
        long now = System.nanoTime(), due = 0;
        for (int q = 0; q < deferredUntil.length; q++) {
            if ((deferredQueues & 1L << q) != 0 && now - deferredUntil[q] >= 0) due |= 1L << q;
        }
        deferredQueues &= ~due;
        return due;
    }

    /** Whether to wait on the host source this round: the device wants it and no error backoff is running. */
    private boolean watchSource() {
        if (sourceBackingOff && System.nanoTime() - sourceBackoffUntil >= 0) sourceBackingOff = false;
        return !sourceBackingOff && source.wanted();
    }

    /**
     * -1 (no limit) with nothing deferred and no source backoff; otherwise the milliseconds to the first
     * deferred queue or the backoff's end, rounded up.
     */
    private int pollTimeoutMillis() {
        if (deferredQueues == 0 && !sourceBackingOff) return -1;
        long now = System.nanoTime(), first = sourceBackingOff ? Math.max(0, sourceBackoffUntil - now) : Long.MAX_VALUE;
        for (int q = 0; q < deferredUntil.length; q++) {
            if ((deferredQueues & 1L << q) != 0) first = Math.min(first, Math.max(0, deferredUntil[q] - now));
        }
        return (int) Math.min(Integer.MAX_VALUE, (first + 999_999) / 1_000_000);
    }

    private void serveAll(long bits) {
        for (int q = 0; bits != 0; q++, bits >>>= 1) {
            if ((bits & 1) == 0) continue;
            try {
                serve.accept(q);
            } catch (Throwable t) { // the I/O thread must outlive any single request
                LOG.log(Level.SEVERE, thread.getName() + ": queue " + q + " failed", t);
            }
        }
    }

    /** Returns once the thread is between passes and holds there until {@link #resume}. */
    void pause() { pause.pause(thread, wake::signal); }

    void resume() { pause.resume(); }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        pause.release();
        if (IoThreads.stop(thread, wake::signal)) {
            wake.close();
            for (EventFd k : kicks) k.close();
        }
    }
}
