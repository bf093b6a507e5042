package dev.flint.devices.virtio.block;

import dev.flint.sys.ErrnoException;
import dev.flint.sys.IoUring;
import dev.flint.sys.Libc;
import dev.flint.sys.PositionalIo;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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
 *     would only hand it to a kernel worker thread, so the write is done at once with a plain {@code pwrite};
 * <li>of a batch's large reads, half go to io_uring's kernel workers first ({@code IOSQE_ASYNC}), which copy them
 *     on another core while this thread copies the rest from the page cache ({@link #workerShare}).
 * </ul>
 * For data in the page cache this costs no thread hand-off (a write handed to io_uring would go to a kernel
 * worker: measured in bench/virtio-blk.sh); data on the disk still goes out as one asynchronous batch. Without io_uring (an old kernel, the
 * jailer's seccomp filter) what the cache cannot serve is read with blocking calls. {@value #BACKEND_PROPERTY}
 * chooses another policy for comparison: {@code uring} (everything through io_uring) or {@code sync}
 * (blocking calls only). The choice is logged once per process.
 *
 * <p>Fixed arrays, reused for every batch: queueing and completing allocate nothing. One thread (the
 * device's I/O thread) uses an instance. Each operation carries the caller's tag; {@link #submit} reports
 * every operation's outcome with it. Buffers of one tag added one after another that continue each other in the
 * file are one operation (an iovec per buffer where they are not neighbours in RAM); a request spread over
 * several operations gets several reports.
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

    /**
     * {@code -Dflint.block.parallel-min=BYTES}: reads of at least this size may be copied by io_uring's kernel
     * workers beside the I/O thread (0: never). Default {@value #PARALLEL_MIN_DEFAULT}: below it the worker's
     * wake-up costs about what the copy does (docs/block-path.md, Round 7).
     */
    public static final String PARALLEL_PROPERTY = "flint.block.parallel-min";
    static final long PARALLEL_MIN_DEFAULT = 64 * 1024;
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
    /** Reads at least this long are eligible for a kernel worker's copy; 0: none. */
    private final long parallelMin;
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
    /**
     * A request scattered over several guest buffers (a Linux guest's page-cache pages) is one operation with an
     * iovec per buffer, one ring entry or one call for all of them: {@code iovFirst[i]} and {@code iovCount[i]} name
     * operation {@code i}'s entries in {@link #iovecs} (count 0: a plain operation on {@code memories[i]} from
     * {@code offsets[i]}). What a short transfer has moved is cut off the front of the entries in place.
     */
    private final int[] iovFirst = new int[CAPACITY], iovCount = new int[CAPACITY];
    private final Arena iovArena = Arena.ofShared(); // closed by whichever thread closes the device
    private final MemorySegment iovecs = iovArena.allocate(Libc.IOVEC_BYTES * CAPACITY, 8);
    /** Buffers added since the last submit (each takes at most one iovec): {@link #fits} counts these. */
    private int pieces;
    private int count;
    private Outcome outcome;
    private final IoUring.Completions completions = this::completed;
    /** Whether operation {@code i}'s entry on the ring carries RWF_NOWAIT (a read tried from the page cache). */
    private final boolean[] nowait = new boolean[CAPACITY];
    /** Whether operation {@code i} was handed to a kernel worker ({@code IOSQE_ASYNC}) in this batch. */
    private final boolean[] parallel = new boolean[CAPACITY];
    /** Entries on the ring whose completion has not been reaped. */
    private int onRing;
    /**
     * Operations done straight from or into the page cache (by a call or a NOWAIT ring entry), those (or their
     * remainders) that went through io_uring to the disk, and NOWAIT reads the cache could not serve (I/O thread;
     * tests read them).
     */
    private long inline, viaRing, cacheMisses, viaWorkers;

    IoBatch(DiskImage image, String path, boolean writable) {
        this(image, path, writable, Policy.fromProperty());
    }

    /** {@code tryRing} false: blocking calls without asking the kernel for a ring (tests). */
    IoBatch(DiskImage image, String path, boolean writable, boolean tryRing) {
        this(image, path, writable, tryRing ? Policy.CACHE_FIRST : Policy.SYNC);
    }

    IoBatch(DiskImage image, String path, boolean writable, Policy policy) {
        this(image, path, writable, policy, Long.getLong(PARALLEL_PROPERTY, PARALLEL_MIN_DEFAULT));
    }

    /** {@code parallelMin}: reads at least this long may go to io_uring's kernel workers (0: never; tests). */
    IoBatch(DiskImage image, String path, boolean writable, Policy policy, long parallelMin) {
        this.parallelMin = Math.max(0, parallelMin);
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
    public boolean fits(int operations) { return pieces + operations <= CAPACITY; }

    /** Queues a transfer between {@code buffer} (native: guest RAM) and the image at {@code position}. */
    public void add(int tag, MemorySegment buffer, long position, boolean write) {
        add(tag, buffer, 0, buffer.byteSize(), position, write);
    }

    /**
     * Queues a transfer between {@code length} bytes of {@code memory} (native: guest RAM) from {@code offset}
     * and the image at {@code position}, without a view of the range made per request.
     */
    public void add(int tag, MemorySegment memory, long offset, long length, long position, boolean write) {
        if (pieces == CAPACITY) throw new IllegalStateException("batch full");
        if (write && !writable) throw new IllegalStateException("read-only image");
        if (!memory.isNative()) throw new IllegalArgumentException("block I/O needs native memory");
        Objects.checkFromIndexSize(offset, length, memory.byteSize());
        if (length > Integer.MAX_VALUE) throw new IllegalArgumentException("transfer over 2 GiB");
        pieces++;
        if (count > 0 && continues(count - 1, tag, memory, length, position, write)) {
            extend(count - 1, memory, offset, length);
            return;
        }
        iovCount[count] = 0;
        memories[count] = memory;
        offsets[count] = offset;
        lengths[count] = length;
        positions[count] = position;
        writes[count] = write;
        tags[count] = tag;
        count++;
    }

    /** Whether a buffer of {@code length} at {@code position} goes on operation {@code i}: the same request, the next bytes of the file. */
    private boolean continues(int i, int tag, MemorySegment memory, long length, long position, boolean write) {
        return tags[i] == tag && writes[i] == write && memories[i] == memory && positions[i] + lengths[i] == position
                && lengths[i] + length <= Integer.MAX_VALUE;
    }

    /**
     * Adds the next buffer of a request to operation {@code i}: a buffer right after the last one in guest RAM
     * makes that one longer, any other becomes an iovec entry of its own (the first such turns the operation
     * into a vectored one). {@code pieces} bounds the entries used, so {@link #iovecs} has room.
     */
    private void extend(int i, MemorySegment memory, long offset, long length) {
        long address = memory.address() + offset;
        if (iovCount[i] == 0) {
            if (offsets[i] + lengths[i] == offset) { // contiguous in guest RAM too: still one buffer
                lengths[i] += length;
                return;
            }
            iovFirst[i] = iovUsed;
            iovCount[i] = 1;
            setIov(iovUsed++, memory.address() + offsets[i], lengths[i]);
        }
        int last = iovFirst[i] + iovCount[i] - 1;
        if (iovBase(last) + iovLength(last) == address) {
            setIov(last, iovBase(last), iovLength(last) + length);
        } else {
            setIov(iovUsed++, address, length);
            iovCount[i]++;
        }
        lengths[i] += length;
    }

    private int iovUsed;

    private void setIov(int k, long base, long length) {
        iovecs.set(ValueLayout.JAVA_LONG, Libc.IOVEC_BYTES * k, base);
        iovecs.set(ValueLayout.JAVA_LONG, Libc.IOVEC_BYTES * k + 8, length);
    }

    private long iovBase(int k) { return iovecs.get(ValueLayout.JAVA_LONG, Libc.IOVEC_BYTES * k); }

    private long iovLength(int k) { return iovecs.get(ValueLayout.JAVA_LONG, Libc.IOVEC_BYTES * k + 8); }

    /** Records that {@code bytes} more of operation {@code i} moved; a vectored one drops them off its entries' front. */
    private void advance(int i, long bytes) {
        moved[i] += bytes;
        if (iovCount[i] == 0) return;
        while (bytes > 0 && iovCount[i] > 0) {
            int k = iovFirst[i];
            long len = iovLength(k);
            if (bytes < len) {
                setIov(k, iovBase(k) + bytes, len - bytes);
                return;
            }
            bytes -= len;
            iovFirst[i]++;
            iovCount[i]--;
        }
    }

    public boolean isEmpty() { return count == 0; }

    /** Operations served straight from (or into) the page cache so far. */
    public long inlineOperations() { return inline; }

    /** Operations (or their remainders) that went through io_uring without RWF_NOWAIT so far. */
    public long ringOperations() { return viaRing; }

    /** Reads whose RWF_NOWAIT ring entry found the data (or part of it) outside the page cache and were queued again. */
    public long cacheMisses() { return cacheMisses; }

    /** Operations submitted so far: one per request however many guest buffers it spans (tests). */
    public long operations() { return operationsSubmitted; }

    private long operationsSubmitted;

    /** Reads handed to io_uring's kernel workers ({@code IOSQE_ASYNC}) so far, to copy beside the I/O thread. */
    public long workerOperations() { return viaWorkers; }

    /** Performs every queued operation and reports each to {@code sink}; the batch is empty afterwards. */
    public void submit(Outcome sink) {
        int n = count;
        if (n == 0) return;
        operationsSubmitted += n;
        count = 0;
        pieces = 0;
        iovUsed = 0;
        outcome = sink;
        try {
            onRing = 0;
            int toWorkers = workerShare(n);
            for (int i = 0; i < n; i++) {
                reported[i] = false;
                moved[i] = 0;
                parallel[i] = false;
                // First on the ring, so the workers start copying while this thread serves the rest inline.
                if (toWorkers > 0 && eligibleForWorker(i)) {
                    parallel[i] = true;
                    toWorkers--;
                    viaWorkers++;
                    queueOnRing(i, false, IoUring.ASYNC);
                }
            }
            for (int i = 0; i < n; i++) {
                if (parallel[i]) continue;
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

    /**
     * How many of the batch's large reads go to io_uring's kernel workers: half of them (rounded down), so the
     * I/O thread copies the other half from the page cache in the same {@code io_uring_enter} and the two
     * halves run on two cores at once. A lone read stays inline: handing it over would only add a wake-up.
     * Measured in docs/block-path.md, Round 7 (1 MiB reads at QD8). Writes stay with the I/O thread: ext4 takes
     * the inode's lock for each buffered write, so a worker's write would wait for the I/O thread's, and the
     * loaded host's figures could not tell whether the split pays for them.
     */
    private int workerShare(int n) {
        if (parallelMin == 0 || ring == null || fd < 0 || policy != Policy.CACHE_FIRST) return 0;
        int eligible = 0;
        for (int i = 0; i < n; i++) if (eligibleForWorker(i)) eligible++;
        return eligible / 2;
    }

    private boolean eligibleForWorker(int i) {
        return !writes[i] && lengths[i] >= parallelMin;
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
            advance(i, r); // part of it is cached: the rest from the disk
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
        queueOnRing(i, fromCache, 0);
    }

    /** {@code sqeFlags}: {@link IoUring#ASYNC} hands the entry to a kernel worker at once. */
    private void queueOnRing(int i, boolean fromCache, int sqeFlags) {
        long done = moved[i], rest = lengths[i] - done;
        nowait[i] = fromCache;
        int rw = fromCache ? PositionalIo.NOWAIT : 0;
        boolean queued = iovCount[i] > 0
                ? (writes[i] ? ring.writev(fd, iovecs, iovFirst[i], iovCount[i], positions[i] + done, sqeFlags, i)
                        : ring.readv(fd, iovecs, iovFirst[i], iovCount[i], positions[i] + done, rw, sqeFlags, i))
                : writes[i] ? ring.write(fd, memories[i], offsets[i] + done, rest, positions[i] + done, sqeFlags, i)
                : ring.read(fd, memories[i], offsets[i] + done, rest, positions[i] + done, fromCache ? PositionalIo.NOWAIT : 0, sqeFlags, i);
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
        advance(i, result);
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
            advance(i, r);
        }
        return true;
    }

    private long transfer(int i, long from, int flags) {
        if (iovCount[i] > 0) { // the entries start where the operation stands ({@link #advance})
            return writes[i] ? io.writev(fd, iovecs, iovFirst[i], iovCount[i], positions[i] + from, flags)
                    : io.readv(fd, iovecs, iovFirst[i], iovCount[i], positions[i] + from, flags);
        }
        return writes[i] ? io.write(fd, memories[i], offsets[i] + from, lengths[i] - from, positions[i] + from, flags)
                : io.read(fd, memories[i], offsets[i] + from, lengths[i] - from, positions[i] + from, flags);
    }

    /** Without a descriptor of our own: the image's FileChannel on a view of the range. */
    private boolean finishWithChannel(int i) {
        try {
            if (iovCount[i] > 0) { // buffer by buffer: the entries name guest RAM inside memories[i]
                long base = memories[i].address();
                while (iovCount[i] > 0) {
                    int k = iovFirst[i];
                    long len = iovLength(k);
                    ByteBuffer view = memories[i].asSlice(iovBase(k) - base, len).asByteBuffer();
                    if (writes[i]) image.write(view, positions[i] + moved[i]);
                    else image.read(view, positions[i] + moved[i]);
                    advance(i, len);
                }
                return true;
            }
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
        iovArena.close();
    }
}
