package dev.flint.devices.virtio.block;

import dev.flint.sys.ErrnoException;
import dev.flint.sys.IoUring;
import dev.flint.sys.Libc;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.logging.Logger;

/**
 * The reads and writes a device's I/O thread gathers from one notification's worth of requests, submitted
 * to the image together: with io_uring (one {@code io_uring_enter} for the whole batch, the data going
 * straight between the file and guest RAM), or, where io_uring is unavailable (an old kernel, the
 * jailer's seccomp filter), with positional FileChannel calls on the same guest-memory views one by one.
 * Which one an image uses is decided when it opens and logged once per process.
 *
 * <p>Fixed arrays, reused for every batch: queueing and completing allocate nothing. One thread (the
 * device's I/O thread) uses an instance. Each operation carries the caller's tag; {@link #submit} reports
 * every operation's outcome with it, a request spread over several operations gets several reports.
 */
public final class IoBatch implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(IoBatch.class.getName());
    /** Operations per batch: a virtio queue's worth of requests, or an NVMe batch, in the common case. */
    public static final int CAPACITY = 256;

    /** Receives each operation's outcome. */
    @FunctionalInterface
    public interface Outcome {
        void done(int tag, boolean ok);
    }

    /** {@code -Dflint.block.io=sync} keeps every image on the synchronous path (for comparison and tests). */
    public static final String BACKEND_PROPERTY = "flint.block.io";
    private static volatile boolean backendLogged;

    private final DiskImage image;
    private final String path;
    private final boolean writable;
    private IoUring ring; // null: the synchronous path
    private int fd = -1;
    private final MemorySegment[] buffers = new MemorySegment[CAPACITY];
    private final long[] positions = new long[CAPACITY];
    private final boolean[] writes = new boolean[CAPACITY];
    private final int[] tags = new int[CAPACITY];
    private final boolean[] reported = new boolean[CAPACITY];
    private int count;
    private Outcome outcome;
    private final IoUring.Completions completions = this::completed;

    IoBatch(DiskImage image, String path, boolean writable) {
        this(image, path, writable, !"sync".equals(System.getProperty(BACKEND_PROPERTY)));
    }

    /** {@code tryRing} false: the synchronous path without asking the kernel (tests, {@link #BACKEND_PROPERTY}). */
    IoBatch(DiskImage image, String path, boolean writable, boolean tryRing) {
        this.image = image;
        this.path = path;
        this.writable = writable;
        String why;
        try {
            if (!tryRing) throw new ErrnoException("io_uring_setup (" + BACKEND_PROPERTY + "=sync)", 1);
            ring = IoUring.open(CAPACITY);
            // A second descriptor on the same file for the ring (FileChannel keeps its own private). Never
            // closed before the image is: closing any descriptor would drop this process's lock on the file.
            fd = Libc.open(path, (writable ? Libc.O_RDWR : Libc.O_RDONLY) | Libc.O_CLOEXEC);
            why = null;
        } catch (ErrnoException e) {
            why = e.getMessage();
            if (ring != null) ring.close();
            ring = null;
        }
        logBackend(why);
    }

    private static void logBackend(String unavailable) {
        if (backendLogged) return;
        backendLogged = true;
        if (unavailable == null) LOG.info("block I/O: io_uring");
        else LOG.info("block I/O: synchronous FileChannel calls (io_uring unavailable: " + unavailable + ")");
    }

    /** Whether this image submits through io_uring (false: the synchronous fallback). */
    public boolean usesIoUring() { return ring != null; }

    /** Room for {@code operations} more before the batch must be submitted. */
    public boolean fits(int operations) { return count + operations <= CAPACITY; }

    /** Queues a transfer between {@code buffer} (native: guest RAM) and the image at {@code position}. */
    public void add(int tag, MemorySegment buffer, long position, boolean write) {
        if (count == CAPACITY) throw new IllegalStateException("batch full");
        if (write && !writable) throw new IllegalStateException("read-only image");
        buffers[count] = buffer;
        positions[count] = position;
        writes[count] = write;
        tags[count] = tag;
        count++;
    }

    public boolean isEmpty() { return count == 0; }

    /** Performs every queued operation and reports each to {@code sink}; the batch is empty afterwards. */
    public void submit(Outcome sink) {
        int n = count;
        if (n == 0) return;
        count = 0;
        outcome = sink;
        try {
            if (ring == null) java.util.Arrays.fill(reported, 0, n, false);
            if (ring == null || !viaRing(n)) {
                for (int i = 0; i < n; i++) if (!reported[i]) sink.done(tags[i], finishSynchronously(i, 0));
            }
        } finally {
            outcome = null;
            for (int i = 0; i < n; i++) buffers[i] = null;
        }
    }

    /** False if the ring failed before anything completed through it: the caller does the batch itself. */
    private boolean viaRing(int n) {
        for (int i = 0; i < n; i++) {
            reported[i] = false;
            boolean queued = writes[i] ? ring.write(fd, buffers[i], positions[i], i) : ring.read(fd, buffers[i], positions[i], i);
            if (!queued) throw new IllegalStateException("io_uring submission ring smaller than the batch");
        }
        try {
            for (int done = 0; done < n; ) {
                ring.submitAndWait(Math.min(1, n - done));
                done += ring.reap(completions);
            }
            return true;
        } catch (ErrnoException e) { // e.g. a seccomp filter installed after the ring was set up
            LOG.warning("block I/O: io_uring failed (" + e.getMessage() + "); " + path + " goes on with synchronous calls");
            ring.close();
            ring = null;
            return false; // the caller does the operations not yet reported synchronously
        }
    }

    private void completed(long userData, int result) {
        int i = (int) userData;
        long length = buffers[i].byteSize();
        boolean ok = result == length || (result >= 0 && finishSynchronously(i, result)); // a short transfer: the rest by hand
        reported[i] = true;
        outcome.done(tags[i], ok);
    }

    /** Transfers operation {@code i} from byte {@code from} on with the FileChannel; false on an I/O error. */
    private boolean finishSynchronously(int i, long from) {
        try {
            ByteBuffer view = buffers[i].asSlice(from).asByteBuffer();
            if (writes[i]) image.write(view, positions[i] + from);
            else image.read(view, positions[i] + from);
            return true;
        } catch (IOException e) {
            image.hostError(e);
            return false;
        }
    }

    @Override
    public void close() {
        if (ring != null) ring.close();
        ring = null;
        if (fd >= 0) Libc.close(fd);
        fd = -1;
    }
}
