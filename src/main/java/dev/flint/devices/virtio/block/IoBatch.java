package dev.flint.devices.virtio.block;

import dev.flint.sys.ErrnoException;
import dev.flint.sys.IoUring;
import dev.flint.sys.Libc;
import dev.flint.sys.PositionalIo;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.logging.Logger;

/**
 * The reads and writes a device's I/O thread gathers from one notification's worth of requests, moved
 * straight between the image file and guest RAM. Each operation goes the cheapest way that cannot stall
 * the thread on the disk:
 * <ul>
 * <li>a read goes to io_uring with {@code RWF_NOWAIT} in its entry, all of the batch's reads in one
 *     {@code io_uring_enter}: the kernel serves what the page cache has during that call, and what it has
 *     not comes back {@code -EAGAIN} and is queued again without the flag (so the disk sees those reads
 *     together); one system call per batch instead of one {@code preadv2(RWF_NOWAIT)} per read, which
 *     measured about 0.15 µs less CPU per cached 4 KiB read (docs/block-path.md, Round 4);
 * <li>a write tries {@code pwritev2(RWF_NOWAIT)} the same way; where the file system cannot write without
 *     waiting (ext4: {@code EOPNOTSUPP}), a buffered write is a copy into the page cache, and io_uring
 *     would only hand it to a kernel worker thread, so the write is done at once with a plain {@code pwrite}.
 * </ul>
 * For data in the page cache this costs no thread hand-off (a write handed to io_uring would go to a kernel
 * worker: measured in bench/virtio-blk.sh); data on the disk still goes out as one asynchronous batch. Without io_uring (an old kernel, the
 * jailer's seccomp filter) what the cache cannot serve is read with blocking calls. {@value #BACKEND_PROPERTY}
 * chooses another policy for comparison: {@code uring} (everything through io_uring) or {@code sync}
 * (blocking calls only). The choice is logged once per process.
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

    /**
     * {@code -Dflint.block.io=}{@code sync} keeps every image on blocking calls, {@code uring} sends every
     * operation through io_uring; unset, the page cache first and io_uring for the rest (for comparison and tests).
     */
    public static final String BACKEND_PROPERTY = "flint.block.io";
    private static volatile boolean backendLogged;

    /** How a batch's operations reach the file. */
    public enum Policy {
        /** RWF_NOWAIT from the page cache at once, io_uring for the rest (the default). */
        CACHE_FIRST,
        /** Every operation through io_uring. */
        URING,
        /** Blocking calls only, never io_uring. */
        SYNC;

        static Policy fromProperty() {
            String v = System.getProperty(BACKEND_PROPERTY, "");
            return switch (v) {
                case "sync" -> SYNC;
                case "uring" -> URING;
                default -> CACHE_FIRST;
            };
        }
    }

    private final DiskImage image;
    private final String path;
    private final boolean writable;
    private final Policy policy;
    private IoUring ring; // null: no io_uring (unavailable, or Policy.SYNC)
    private int fd = -1;  // -1: no descriptor of our own; the FileChannel does everything
    private final PositionalIo io = new PositionalIo();
    /** Whether RWF_NOWAIT is worth trying per direction; off once the file system said it cannot. */
    private boolean nowaitReads, nowaitWrites;
    private final MemorySegment[] memories = new MemorySegment[CAPACITY];
    private final long[] offsets = new long[CAPACITY], lengths = new long[CAPACITY], positions = new long[CAPACITY];
    /** Bytes already moved (by an attempt from the cache that got part of it). */
    private final long[] moved = new long[CAPACITY];
    private final boolean[] writes = new boolean[CAPACITY];
    private final int[] tags = new int[CAPACITY];
    private final boolean[] reported = new boolean[CAPACITY];
    private int count;
    private Outcome outcome;
    private final IoUring.Completions completions = this::completed;
    /** Whether operation {@code i}'s entry on the ring carries RWF_NOWAIT (a read tried from the page cache). */
    private final boolean[] nowait = new boolean[CAPACITY];
    /** Entries on the ring whose completion has not been reaped. */
    private int onRing;
    /**
     * Operations done straight from or into the page cache (by a call or a NOWAIT ring entry), those (or their
     * remainders) that went through io_uring to the disk, and NOWAIT reads the cache could not serve (I/O thread;
     * tests read them).
     */
    private long inline, viaRing, cacheMisses;

    IoBatch(DiskImage image, String path, boolean writable) {
        this(image, path, writable, Policy.fromProperty());
    }

    /** {@code tryRing} false: blocking calls without asking the kernel for a ring (tests). */
    IoBatch(DiskImage image, String path, boolean writable, boolean tryRing) {
        this(image, path, writable, tryRing ? Policy.CACHE_FIRST : Policy.SYNC);
    }

    IoBatch(DiskImage image, String path, boolean writable, Policy policy) {
        this.image = image;
        this.path = path;
        this.writable = writable;
        this.policy = policy;
        nowaitReads = nowaitWrites = policy == Policy.CACHE_FIRST;
        String why = null;
        try {
            // A second descriptor on the same file (FileChannel keeps its own private). Never closed before
            // the image is: closing any descriptor would drop this process's lock on the file.
            fd = Libc.open(path, (writable ? Libc.O_RDWR : Libc.O_RDONLY) | Libc.O_CLOEXEC);
        } catch (ErrnoException e) {
            why = "cannot open " + path + " again: " + e.getMessage();
        }
        if (fd >= 0 && policy != Policy.SYNC) {
            try {
                ring = IoUring.open(CAPACITY);
            } catch (ErrnoException e) {
                why = e.getMessage();
            }
        } else if (policy == Policy.SYNC) {
            why = BACKEND_PROPERTY + "=sync";
        }
        logBackend(why);
    }

    private void logBackend(String unavailable) {
        if (backendLogged) return;
        backendLogged = true;
        if (unavailable == null) {
            LOG.info("block I/O: " + (policy == Policy.URING ? "io_uring for every request"
                    : "page cache first (RWF_NOWAIT), io_uring for the rest"));
        } else {
            LOG.info("block I/O: synchronous calls (io_uring unavailable: " + unavailable + ")");
        }
    }

    /** Whether this image submits through io_uring (false: blocking calls only). */
    public boolean usesIoUring() { return ring != null; }

    /** Room for {@code operations} more before the batch must be submitted. */
    public boolean fits(int operations) { return count + operations <= CAPACITY; }

    /** Queues a transfer between {@code buffer} (native: guest RAM) and the image at {@code position}. */
    public void add(int tag, MemorySegment buffer, long position, boolean write) {
        add(tag, buffer, 0, buffer.byteSize(), position, write);
    }

    /**
     * Queues a transfer between {@code length} bytes of {@code memory} (native: guest RAM) from {@code offset}
     * and the image at {@code position}, without a view of the range made per request.
     */
    public void add(int tag, MemorySegment memory, long offset, long length, long position, boolean write) {
        if (count == CAPACITY) throw new IllegalStateException("batch full");
        if (write && !writable) throw new IllegalStateException("read-only image");
        if (!memory.isNative()) throw new IllegalArgumentException("block I/O needs native memory");
        Objects.checkFromIndexSize(offset, length, memory.byteSize());
        if (length > Integer.MAX_VALUE) throw new IllegalArgumentException("transfer over 2 GiB");
        memories[count] = memory;
        offsets[count] = offset;
        lengths[count] = length;
        positions[count] = position;
        writes[count] = write;
        tags[count] = tag;
        count++;
    }

    public boolean isEmpty() { return count == 0; }

    /** Operations served straight from (or into) the page cache so far. */
    public long inlineOperations() { return inline; }

    /** Operations (or their remainders) that went through io_uring without RWF_NOWAIT so far. */
    public long ringOperations() { return viaRing; }

    /** Reads whose RWF_NOWAIT ring entry found the data (or part of it) outside the page cache and were queued again. */
    public long cacheMisses() { return cacheMisses; }

    /** Performs every queued operation and reports each to {@code sink}; the batch is empty afterwards. */
    public void submit(Outcome sink) {
        int n = count;
        if (n == 0) return;
        count = 0;
        outcome = sink;
        try {
            onRing = 0;
            for (int i = 0; i < n; i++) {
                reported[i] = false;
                moved[i] = 0;
                if (fd < 0 || ring == null) {
                    report(i, finishBlocking(i));
                } else if (policy == Policy.URING) {
                    queueOnRing(i, false);
                } else if (!writes[i] && nowaitReads) {
                    queueOnRing(i, true); // from the cache in the batch's one io_uring_enter, if it is there
                } else if (!tryInline(i)) {
                    queueOnRing(i, false);
                }
            }
            if (onRing > 0 && !runRing()) {
                for (int i = 0; i < n; i++) if (!reported[i]) report(i, finishBlocking(i));
            }
        } finally {
            outcome = null;
            for (int i = 0; i < n; i++) memories[i] = null;
        }
    }

    private void report(int i, boolean ok) {
        reported[i] = true;
        outcome.done(tags[i], ok);
    }

    /**
     * Tries operation {@code i} without waiting: true if it is finished (and reported), false if what is left
     * must go through the ring ({@link #moved} says how much is done).
     */
    private boolean tryInline(int i) {
        boolean write = writes[i];
        if (write ? !nowaitWrites : !nowaitReads) {
            if (!write) return false;
            report(i, finishBlocking(i)); // a write the file system cannot do without waiting: a copy into the cache
            return true;
        }
        long r = transfer(i, 0, PositionalIo.NOWAIT);
        if (r == lengths[i]) {
            inline++;
            report(i, true);
            return true;
        }
        if (r >= 0) {
            moved[i] = r; // part of it is cached: the rest from the disk
            return false;
        }
        int errno = (int) -r;
        if (errno == PositionalIo.EAGAIN) return false;
        if (errno == PositionalIo.EOPNOTSUPP || errno == Libc.EINVAL) { // this file system does not do it
            if (write) nowaitWrites = false;
            else nowaitReads = false;
            return tryInline(i);
        }
        hostError(errno);
        report(i, false);
        return true;
    }

    /**
     * Queues what is left of operation {@code i} on the ring; {@code fromCache}: a read with RWF_NOWAIT. At most
     * one entry per operation is on the ring at a time, so a ring of {@link #CAPACITY} entries always has room.
     */
    private void queueOnRing(int i, boolean fromCache) {
        long done = moved[i], rest = lengths[i] - done;
        nowait[i] = fromCache;
        boolean queued = writes[i] ? ring.write(fd, memories[i], offsets[i] + done, rest, positions[i] + done, i)
                : ring.read(fd, memories[i], offsets[i] + done, rest, positions[i] + done, fromCache ? PositionalIo.NOWAIT : 0, i);
        if (!queued) throw new IllegalStateException("io_uring submission ring smaller than the batch");
        onRing++;
    }

    /** False if the ring failed before everything completed through it: the caller does the rest itself. */
    private boolean runRing() {
        try {
            while (onRing > 0) {
                ring.submitAndWait(1);
                int reaped = ring.reap(completions); // may queue entries again: onRing grows during the call,
                onRing -= reaped;                    // so it is read after it (not in a compound assignment)
            }
            return true;
        } catch (ErrnoException e) { // e.g. a seccomp filter installed after the ring was set up
            LOG.warning("block I/O: io_uring failed (" + e.getMessage() + "); " + path + " goes on with synchronous calls");
            ring.close();
            ring = null;
            return false;
        }
    }

    private void completed(long userData, int result) {
        int i = (int) userData;
        if (i < 0 || i >= CAPACITY || reported[i]) throw new IllegalStateException("io_uring completed an entry it was not given: " + userData);
        boolean fromCache = nowait[i];
        if (fromCache) {
            if (result == -PositionalIo.EAGAIN) { // not in the page cache: from the disk, without the flag
                cacheMisses++;
                queueOnRing(i, false);
                return;
            }
            if (result == -PositionalIo.EOPNOTSUPP || result == -Libc.EINVAL) { // this file system does not do it
                nowaitReads = false;
                queueOnRing(i, false);
                return;
            }
        } else {
            viaRing++;
        }
        if (result < 0) {
            hostError(-result);
            report(i, false);
            return;
        }
        moved[i] += result;
        if (moved[i] == lengths[i]) {
            if (fromCache) inline++;
            report(i, true);
        } else if (fromCache && result > 0) {
            cacheMisses++;
            queueOnRing(i, false); // part of it was cached: the rest from the disk
        } else {
            report(i, finishBlocking(i)); // a short transfer (or the file's end): the rest by hand
        }
    }

    /** Transfers what is left of operation {@code i} with blocking calls; false on an I/O error or the file's end. */
    private boolean finishBlocking(int i) {
        if (fd < 0) return finishWithChannel(i);
        while (moved[i] < lengths[i]) {
            long r = transfer(i, moved[i], 0);
            if (r < 0) {
                hostError((int) -r);
                return false;
            }
            if (r == 0) {
                image.hostError(new IOException("unexpected end of image"));
                return false;
            }
            moved[i] += r;
        }
        return true;
    }

    private long transfer(int i, long from, int flags) {
        return writes[i] ? io.write(fd, memories[i], offsets[i] + from, lengths[i] - from, positions[i] + from, flags)
                : io.read(fd, memories[i], offsets[i] + from, lengths[i] - from, positions[i] + from, flags);
    }

    /** Without a descriptor of our own: the image's FileChannel on a view of the range. */
    private boolean finishWithChannel(int i) {
        try {
            long from = moved[i];
            ByteBuffer view = memories[i].asSlice(offsets[i] + from, lengths[i] - from).asByteBuffer();
            if (writes[i]) image.write(view, positions[i] + from);
            else image.read(view, positions[i] + from);
            moved[i] = lengths[i];
            return true;
        } catch (IOException e) {
            image.hostError(e);
            return false;
        }
    }

    private void hostError(int errno) {
        image.hostError(new IOException(Libc.strerror(errno)));
    }

    @Override
    public void close() {
        if (ring != null) ring.close();
        ring = null;
        if (fd >= 0) Libc.close(fd);
        fd = -1;
        io.close();
    }
}
