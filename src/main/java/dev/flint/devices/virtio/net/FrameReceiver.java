package dev.flint.devices.virtio.net;

import dev.flint.devices.IoThreads;
import dev.flint.sys.FileDescriptor;
import dev.flint.sys.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * virtio-net's receive thread: sleeps in poll(2) until the backend has a frame (while it owns the receive
 * buffer) or its eventfd is written (the buffer came back, or the device is closing). It never spins:
 * with no traffic it costs nothing, and a poll that reports an error condition backs off.
 */
final class FrameReceiver implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(FrameReceiver.class.getName());
    private static final long ERROR_BACKOFF_NANOS = 50_000_000;

    private final NetBackend backend;
    /** Reads one frame and hands it to the I/O thread; false if there was none. */
    private final BooleanSupplier receive;
    /** Whether this thread owns the receive buffer (may read into it). */
    private final BooleanSupplier owned;
    private final FileDescriptor wake = new FileDescriptor(Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK));
    private final Arena arena = Arena.ofShared();
    /** The eventfd increment; every writer writes the same 1, so sharing it between threads is harmless. */
    private final MemorySegment one = arena.allocate(ValueLayout.JAVA_LONG);
    private final Thread thread;
    private volatile boolean closed;

    FrameReceiver(NetBackend backend, BooleanSupplier receive, BooleanSupplier owned) {
        this.backend = backend;
        this.receive = receive;
        this.owned = owned;
        one.set(ValueLayout.JAVA_LONG, 0, 1);
        this.thread = Thread.ofPlatform().name("virtio-net-rx").daemon().start(this::run);
    }

    /** Makes the thread look again (the buffer is back, or it should stop). Any thread; never blocks. */
    void wake() {
        try {
            Libc.write(wake.fd(), one);
        } catch (RuntimeException e) {
            // the counter is saturated: the thread has a wake-up pending anyway
        }
    }

    private void run() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fds = arena.allocate(2 * Libc.POLLFD_BYTES, 8);
            MemorySegment counter = arena.allocate(ValueLayout.JAVA_LONG);
            while (!closed) {
                boolean mine = owned.getAsBoolean();
                fds.set(ValueLayout.JAVA_INT, 0, mine ? backend.fd() : -1); // a negative fd is skipped
                fds.set(ValueLayout.JAVA_SHORT, 4, Libc.POLLIN);
                fds.set(ValueLayout.JAVA_SHORT, 6, (short) 0);
                fds.set(ValueLayout.JAVA_INT, 8, wake.fd());
                fds.set(ValueLayout.JAVA_SHORT, 12, Libc.POLLIN);
                fds.set(ValueLayout.JAVA_SHORT, 14, (short) 0);
                Libc.poll(fds, 2, -1);
                if ((fds.get(ValueLayout.JAVA_SHORT, 14) & Libc.POLLIN) != 0) drain(counter);
                if (closed || !mine) continue;
                short events = fds.get(ValueLayout.JAVA_SHORT, 6);
                if ((events & Libc.POLLIN) != 0) receive.getAsBoolean();
                if ((events & (Libc.POLLERR | Libc.POLLHUP | Libc.POLLNVAL)) != 0) {
                    LockSupport.parkNanos(ERROR_BACKOFF_NANOS); // a broken backend must not become a busy loop
                }
            }
        } catch (RuntimeException e) {
            LOG.log(Level.SEVERE, "virtio-net: the receive thread failed; the guest receives nothing more", e);
        }
    }

    private void drain(MemorySegment counter) {
        try {
            Libc.read(wake.fd(), counter);
        } catch (RuntimeException e) {
            // EAGAIN: another poll round already took it
        }
    }

    @Override
    public void close() {
        closed = true;
        if (IoThreads.stop(thread, this::wake)) {
            wake.close();
            arena.close();
        }
    }
}
