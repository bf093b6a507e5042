package dev.flint.devices.nvme;

import dev.flint.machine.GuestMemory;
import dev.flint.machine.GuestMemoryException;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntConsumer;
import java.util.logging.Logger;

/**
 * The NVMe controller model, transport-free: controller registers, the admin and I/O queue pairs, the
 * namespaces, and the asynchronous events. {@link NvmePciFunction} puts it on PCI.
 *
 * <p>Threads: vCPU threads write registers and doorbells; only the I/O thread ({@link #serviceAll})
 * reads submission queues, runs commands and posts completions. {@link #lock} is held by the I/O thread
 * while it serves one queue's batch and by everything that changes controller state (enable, reset,
 * shutdown, attaching a namespace), so a reset never tears a command in half and waits for at most
 * one batch.
 */
public final class NvmeController implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(NvmeController.class.getName());
    private static final int LOGGED_GUEST_ERRORS = 20;
    /** Commands served from one queue before the others get a turn (and a reset waiting for the lock). */
    private static final int BATCH = 128;
    /**
     * Commands per batch on an I/O queue: the batch's completions are posted and interrupted for before the
     * next batch begins, so a driver keeping a deep queue refills the first commands' slots while the
     * controller serves the rest (a disk answers each command when it is done, not when its neighbours are).
     */
    static final int IO_BATCH = Integer.getInteger("flint.nvme.batch", 16);
    /**
     * CAP: MQES 1023, contiguous queues required (CQR), timeout 5 s (TO 10 x 500 ms), doorbell stride 4
     * bytes, the NVM command set (CSS bit 37), memory page size 4 KiB only (MPSMIN = MPSMAX = 0).
     */
    static final long CAP = (NvmeSpec.MAX_QUEUE_ENTRIES - 1) | 1L << 16 | 10L << 24 | 1L << 37;

    final GuestMemory memory;
    final NvmeIdentity identity;
    /** I/O queue pairs the controller offers (one per vCPU). */
    final int maxIoQueues;
    final int vectors;
    final Doorbells doorbells;
    final ReentrantLock lock = new ReentrantLock(true);
    private final IntConsumer interrupt;
    final Runnable wake;
    private final AdminCommands admin;
    private final IoCommands io;
    private final Submission command = new Submission();
    /** Completion queues the I/O thread stopped at because they were full (1), waiting for a head doorbell. */
    private final AtomicIntegerArray cqBlocked;

    // Registers, guarded by lock (CSTS is read without it).
    int cc, aqa;
    long asq, acq;
    volatile int csts;

    // Queues and namespaces, guarded by lock.
    final SubmissionQueue[] sqs;
    final CompletionQueue[] cqs;
    final NvmeNamespace[] namespaces = new NvmeNamespace[NvmeSpec.MAX_NAMESPACES + 1];
    final NvmeFeatures features;
    /** Dword 0 of the completion of the command being served. */
    int resultDw0;

    // Asynchronous events, guarded by lock.
    final ArrayDeque<Integer> outstandingEvents = new ArrayDeque<>();
    final TreeSet<Integer> changedNamespaces = new TreeSet<>();
    boolean namespaceEventPending;
    /** A Namespace Attribute Changed event was reported; the next waits until the driver reads log page 4. */
    boolean namespaceEventMasked;

    /** The driver's shadow doorbells once it configured them (null: the registers only), guarded by lock. */
    ShadowDoorbells shadow;
    /** Hears shadow doorbells go on and off (the transport diverts rings to an eventfd meanwhile). */
    volatile java.util.function.Consumer<Boolean> shadowListener = on -> { };

    final NvmeCounters counters = new NvmeCounters();
    /** Whether any namespace has ever had a rate limit (until then commands are not looked at twice). */
    volatile boolean rateLimited;
    /** When a rate-limited queue may go on (System.nanoTime()), or 0: set and read by the I/O thread only. */
    private long throttledUntil;
    private final AtomicLong guestErrors = new AtomicLong();

    /**
     * @param ioQueues  I/O queue pairs to offer (one per vCPU)
     * @param interrupt signals an MSI-X vector (the transport's)
     * @param wake      tells the I/O thread there is work (a doorbell rang, an event is pending)
     */
    NvmeController(GuestMemory memory, NvmeIdentity identity, int ioQueues, IntConsumer interrupt, Runnable wake) {
        if (ioQueues < 1 || ioQueues > 254) throw new IllegalArgumentException("1..254 I/O queues");
        this.memory = memory;
        this.identity = identity;
        this.maxIoQueues = ioQueues;
        this.vectors = ioQueues + 1;
        this.interrupt = interrupt;
        this.wake = wake;
        this.doorbells = new Doorbells(ioQueues + 1);
        this.cqBlocked = new AtomicIntegerArray(ioQueues + 1);
        this.sqs = new SubmissionQueue[ioQueues + 1];
        this.cqs = new CompletionQueue[ioQueues + 1];
        this.features = new NvmeFeatures(ioQueues);
        this.admin = new AdminCommands(this);
        this.io = new IoCommands(this);
    }

    // ---- namespaces ----

    /**
     * Adds {@code ns} (its ID must be free) and, when the driver asked for namespace notices, announces it
     * with a Namespace Attribute Changed event, so the driver rescans. Any thread.
     */
    void attach(NvmeNamespace ns) {
        lock.lock();
        try {
            if (ns.nsid < 1 || ns.nsid > NvmeSpec.MAX_NAMESPACES || namespaces[ns.nsid] != null) {
                throw new IllegalArgumentException("namespace ID " + ns.nsid + " is taken or out of range");
            }
            namespaces[ns.nsid] = ns;
            if (ns.limiter.limits()) rateLimited = true;
            // A driver that has not started yet finds it in its first scan: no change to report.
            if ((csts & NvmeSpec.CSTS_RDY) != 0) changedNamespaces.add(ns.nsid);
            if ((features.asyncEvents & NvmeSpec.AEN_NAMESPACE_ATTRIBUTE) != 0 && !namespaceEventMasked) {
                namespaceEventPending = true;
            }
        } finally {
            lock.unlock();
        }
        wake.run();
    }

    /**
     * Removes namespace {@code nsid} and closes its image. Commands run on the I/O thread under this lock, so
     * none is using it; later ones name an inactive namespace (Invalid Namespace). The driver hears of it by
     * the same Namespace Attribute Changed event as an attach, rescans, and drops the block device. Any thread.
     */
    void detach(int nsid) {
        NvmeNamespace ns;
        lock.lock();
        try {
            ns = namespace(nsid);
            if (ns == null) throw new IllegalArgumentException("no namespace " + nsid + " on NVMe controller " + identity.serial());
            namespaces[nsid] = null;
            if ((csts & NvmeSpec.CSTS_RDY) != 0) changedNamespaces.add(nsid);
            if ((features.asyncEvents & NvmeSpec.AEN_NAMESPACE_ATTRIBUTE) != 0 && !namespaceEventMasked) {
                namespaceEventPending = true;
            }
            ns.close();
        } finally {
            lock.unlock();
        }
        wake.run();
    }

    /**
     * Re-reads namespace {@code nsid}'s image size after the host grew the file and, if it changed, announces it
     * with a Namespace Attribute Changed event (the namespace in the Changed Namespace List), as for an attach:
     * the driver re-identifies the namespace and takes the new capacity. Returns the blocks now. Any thread.
     */
    long resized(int nsid) {
        long now;
        lock.lock();
        try {
            NvmeNamespace ns = namespace(nsid);
            if (ns == null) throw new IllegalArgumentException("no namespace " + nsid + " on NVMe controller " + identity.serial());
            long before = ns.blocks();
            now = ns.image.refreshSize();
            if (now == before) return now;
            if ((csts & NvmeSpec.CSTS_RDY) != 0) changedNamespaces.add(nsid);
            if ((features.asyncEvents & NvmeSpec.AEN_NAMESPACE_ATTRIBUTE) != 0 && !namespaceEventMasked) {
                namespaceEventPending = true;
            }
        } finally {
            lock.unlock();
        }
        wake.run();
        return now;
    }

    /**
     * {@code PATCH /drives} on a namespace: replaces or removes the buckets named (null keeps one), then has
     * the I/O thread look at the queues again. False if there is no such namespace. Any thread.
     */
    boolean updateRateLimit(int nsid, dev.flint.devices.ratelimit.BucketConfig bandwidth,
                            dev.flint.devices.ratelimit.BucketConfig ops) {
        lock.lock();
        try {
            NvmeNamespace ns = namespace(nsid);
            if (ns == null) return false;
            ns.limiter.update(bandwidth, ops);
            if (ns.limiter.limits()) rateLimited = true;
        } finally {
            lock.unlock();
        }
        wake.run();
        return true;
    }

    /**
     * How long the I/O thread may sleep before a rate-limited queue can go on: -1 for as long as it likes,
     * else milliseconds (rounded up). I/O thread only, after {@link #serviceAll}.
     */
    int throttleTimeoutMillis() {
        if (throttledUntil == 0) return -1;
        long left = Math.max(0, throttledUntil - System.nanoTime());
        return (int) Math.min(Integer.MAX_VALUE, (left + 999_999) / 1_000_000);
    }

    /** The lowest free namespace ID, or -1 when all are taken. */
    int freeNamespaceId() {
        lock.lock();
        try {
            for (int id = 1; id <= NvmeSpec.MAX_NAMESPACES; id++) if (namespaces[id] == null) return id;
            return -1;
        } finally {
            lock.unlock();
        }
    }

    /** The active namespace {@code nsid}, or null (caller holds lock). */
    NvmeNamespace namespace(int nsid) {
        return nsid >= 1 && nsid <= NvmeSpec.MAX_NAMESPACES ? namespaces[nsid] : null;
    }

    /** Active namespace IDs in ascending order (caller holds lock). */
    Collection<Integer> activeNamespaceIds() {
        List<Integer> ids = new ArrayList<>();
        for (int id = 1; id <= NvmeSpec.MAX_NAMESPACES; id++) if (namespaces[id] != null) ids.add(id);
        return ids;
    }

    // ---- registers ----

    /** A register read of 1, 2, 4 or 8 bytes (offset below the doorbells). */
    long readRegister(long offset, int size) {
        long v = 0;
        for (int i = size - 1; i >= 0; i--) {
            long at = offset + i;
            v = v << 8 | (registerWord((int) (at & ~3)) >>> (8 * (at & 3))) & 0xFF;
        }
        return v;
    }

    private int registerWord(int offset) {
        if (offset == NvmeSpec.REG_CSTS) return csts;
        lock.lock();
        try {
            return switch (offset) {
                case NvmeSpec.REG_CAP -> (int) CAP;
                case NvmeSpec.REG_CAP + 4 -> (int) (CAP >>> 32);
                case NvmeSpec.REG_VS -> NvmeSpec.VERSION;
                case NvmeSpec.REG_CC -> cc;
                case NvmeSpec.REG_AQA -> aqa;
                case NvmeSpec.REG_ASQ -> (int) asq;
                case NvmeSpec.REG_ASQ + 4 -> (int) (asq >>> 32);
                case NvmeSpec.REG_ACQ -> (int) acq;
                case NvmeSpec.REG_ACQ + 4 -> (int) (acq >>> 32);
                default -> 0; // INTMS/INTMC (MSI-X is in use), NSSR (no subsystem reset), reserved
            };
        } finally {
            lock.unlock();
        }
    }

    /** A register write; the 64-bit ASQ and ACQ may come as one 8-byte write or two 4-byte halves. */
    void writeRegister(long offset, int size, long value) {
        if (size == 8 && (offset == NvmeSpec.REG_ASQ || offset == NvmeSpec.REG_ACQ)) {
            writeWord((int) offset, (int) value);
            writeWord((int) offset + 4, (int) (value >>> 32));
        } else if (size == 4 && (offset & 3) == 0) {
            writeWord((int) offset, (int) value);
        }
        // Narrower or misaligned writes to these registers are not something a driver does: ignored.
    }

    private void writeWord(int offset, int value) {
        lock.lock();
        try {
            switch (offset) {
                case NvmeSpec.REG_CC -> writeCc(value);
                case NvmeSpec.REG_AQA -> aqa = value & 0x0FFF_0FFF;
                case NvmeSpec.REG_ASQ -> asq = (asq & ~0xFFFF_FFFFL) | (value & 0xFFFF_F000L);
                case NvmeSpec.REG_ASQ + 4 -> asq = (asq & 0xFFFF_FFFFL) | (long) value << 32;
                case NvmeSpec.REG_ACQ -> acq = (acq & ~0xFFFF_FFFFL) | (value & 0xFFFF_F000L);
                case NvmeSpec.REG_ACQ + 4 -> acq = (acq & 0xFFFF_FFFFL) | (long) value << 32;
                default -> { } // read-only or reserved
            }
        } finally {
            lock.unlock();
        }
    }

    private void writeCc(int value) {
        int old = cc;
        cc = value & 0x00FF_FFF1;
        if ((old & NvmeSpec.CC_EN) != 0 && (value & NvmeSpec.CC_EN) == 0) {
            reset();
        } else if ((old & NvmeSpec.CC_EN) == 0 && (value & NvmeSpec.CC_EN) != 0) {
            enable();
        }
        int shutdown = (value >>> 14) & 3;
        if (shutdown != 0 && ((old >>> 14) & 3) == 0) {
            csts = (csts & ~0xC) | NvmeSpec.SHST_OCCURRING << 2;
            flushAll();
            csts = (csts & ~0xC) | NvmeSpec.SHST_COMPLETE << 2;
        }
    }

    /** CC.EN 0 to 1: check the admin queue's setup and bring the controller up, or report a fatal status. */
    private void enable() {
        int mps = (cc >>> 7) & 0xF, css = (cc >>> 4) & 7, ams = (cc >>> 11) & 7;
        int sqSize = (aqa & 0xFFF) + 1, cqSize = ((aqa >>> 16) & 0xFFF) + 1;
        String problem = mps != 0 ? "memory page size other than 4 KiB"
                : css != 0 ? "a command set other than NVM"
                : ams != 0 ? "an arbitration other than round robin"
                : sqSize < 2 || cqSize < 2 ? "an admin queue with fewer than 2 entries"
                : !memory.isRam(asq, (long) sqSize * NvmeSpec.SQ_ENTRY) || !memory.isRam(acq, (long) cqSize * NvmeSpec.CQ_ENTRY)
                ? "admin queues outside RAM" : null;
        if (problem != null) {
            guestError("enabled with " + problem);
            csts |= NvmeSpec.CSTS_CFS;
            return;
        }
        cqs[0] = new CompletionQueue(0, acq, cqSize, 0, true);
        sqs[0] = new SubmissionQueue(0, asq, sqSize, cqs[0]);
        cqs[0].submissionQueues = 1;
        doorbells.clearSq(0);
        doorbells.clearCq(0);
        csts = NvmeSpec.CSTS_RDY;
    }

    /** CC.EN 1 to 0: every queue goes, outstanding event requests are dropped, the registers keep their values. */
    private void reset() {
        java.util.Arrays.fill(sqs, null);
        java.util.Arrays.fill(cqs, null);
        for (int q = 0; q < doorbells.queues(); q++) {
            doorbells.clearSq(q);
            doorbells.clearCq(q);
            cqBlocked.set(q, 0);
        }
        outstandingEvents.clear();
        changedNamespaces.clear(); // the driver scans every namespace after a reset
        namespaceEventPending = false;
        namespaceEventMasked = false;
        features.reset();
        if (shadow != null) {
            shadow = null;
            shadowListener.accept(false);
        }
        csts = 0;
    }

    private void flushAll() {
        for (NvmeNamespace ns : namespaces) {
            if (ns == null) continue;
            try {
                ns.image.flush();
            } catch (java.io.IOException e) {
                LOG.warning("nvme: flush at shutdown failed: " + e.getMessage());
            }
        }
    }

    /** Sets who hears shadow doorbells go on and off; before the guest runs. */
    void onShadowDoorbells(java.util.function.Consumer<Boolean> listener) { shadowListener = listener; }

    /** Doorbell Buffer Config (I/O thread, under lock): false if the pages are not page-aligned RAM. */
    boolean useShadowDoorbells(long doorbellPage, long eventIndexPage) {
        if (!ShadowDoorbells.valid(memory, doorbellPage, eventIndexPage)) {
            guestError("shadow doorbell pages not page-aligned RAM");
            return false;
        }
        shadow = new ShadowDoorbells(memory, doorbellPage, eventIndexPage);
        counters.shadowDoorbells.increment();
        shadowListener.accept(true);
        return true;
    }

    private int sqTail(SubmissionQueue sq) {
        return sq.id != 0 && shadow != null ? shadow.sqTail(sq.id) : doorbells.sqTail(sq.id);
    }

    private int cqHead(CompletionQueue cq) {
        return cq.id != 0 && shadow != null ? shadow.cqHead(cq.id) : doorbells.cqHead(cq.id);
    }

    /** The register a doorbell write (offset relative to the doorbell area) names: from a vCPU, never blocks. */
    void writeDoorbell(long offset, int size, long value) {
        if (size != 4 || (offset & 3) != 0 || offset >= doorbells.span()) return;
        int q = (int) (offset >>> 3);
        int v = (int) value & 0xFFFF;
        if ((offset & 4) == 0) {
            doorbells.setSqTail(q, v);
            wake.run();
        } else {
            doorbells.setCqHead(q, v);
            if (cqBlocked.getAndSet(q, 0) != 0) wake.run();
        }
    }

    int csts() { return csts; }

    /** I/O command entry size the driver set (CC.IOSQES/IOCQES), checked when it creates I/O queues. */
    boolean ioEntrySizesValid() {
        return ((cc >>> 16) & 0xF) == NvmeSpec.SQ_ENTRY_LOG && ((cc >>> 20) & 0xF) == NvmeSpec.CQ_ENTRY_LOG;
    }

    // ---- the I/O thread ----

    /**
     * Serves every submission queue (at most {@link #BATCH} commands each) and the pending events; returns
     * true if work is left that the I/O thread should come back for without waiting for a doorbell.
     */
    boolean serviceAll() {
        throttledUntil = 0;
        if ((csts & (NvmeSpec.CSTS_RDY | NvmeSpec.CSTS_CFS)) != NvmeSpec.CSTS_RDY) return false;
        boolean more = false;
        for (int q = 0; q < sqs.length; q++) {
            lock.lock();
            try {
                if (q == 0) deliverEvents();
                SubmissionQueue sq = sqs[q];
                if (sq != null) more |= serve(sq);
                // An event that came before the driver's Asynchronous Event Request goes out with it, not at the next doorbell.
                if (q == 0) deliverEvents();
                fireInterrupts();
            } finally {
                lock.unlock();
            }
        }
        return more;
    }

    /**
     * Runs the queue's new commands as one batch: reads and writes join the namespaces' I/O batches and
     * complete together when it ends. Returns true if it stopped at the batch limit with more waiting.
     */
    private boolean serve(SubmissionQueue sq) {
        try {
            return serveBatch(sq);
        } finally {
            io.finishBatch();
        }
    }

    private boolean serveBatch(SubmissionQueue sq) {
        boolean shadowed = sq.id != 0 && shadow != null;
        int tail = sqTail(sq);
        for (int n = 0; ; n++) {
            if (tail >= sq.size) {
                guestError("SQ " + sq.id + " tail " + tail + " beyond the queue's " + sq.size + " entries");
                return false;
            }
            if (sq.head == tail) {
                if (!shadowed) return false;
                shadow.wantSqRingAfter(sq.id, tail); // then look once more: the driver may not have rung
                tail = sqTail(sq);
                if (sq.head == tail) return false;
                continue;
            }
            if (n >= (sq.id == 0 ? BATCH : IO_BATCH)) return true;
            CompletionQueue cq = sq.cq;
            if (cq.full(cqHead(cq))) {
                cqBlocked.set(cq.id, 1);
                if (cq.id != 0 && shadow != null) shadow.wantCqRingAfter(cq.id, cqHead(cq));
                if (cq.full(cqHead(cq))) return false; // the head doorbell wakes us
                cqBlocked.set(cq.id, 0);
            }
            if (rateLimited && sq.id != 0 && throttled(sq)) return false; // the command waits at the head
            if (!runOne(sq, cq)) return false;
            if (sqs[sq.id] != sq) return false; // the command deleted its own queue
        }
    }

    /**
     * Whether the I/O command at the queue's head must wait for its namespace's rate limiter; if so it stays
     * unconsumed (the queue waits behind it, as a ring does) and the I/O thread comes back when the tokens are
     * there. One op per command; Read and Write cost their bytes too.
     */
    private boolean throttled(SubmissionQueue sq) {
        try {
            command.load(memory, sq.entryAddress());
        } catch (GuestMemoryException e) {
            return false; // runOne reports it
        }
        NvmeNamespace ns = namespace(command.nsid);
        if (ns == null) return false;
        long bytes = switch (command.opcode) {
            case NvmeSpec.IO_READ, NvmeSpec.IO_WRITE -> (long) command.blocks() << NvmeSpec.LBA_SHIFT;
            case NvmeSpec.IO_FLUSH, NvmeSpec.IO_WRITE_ZEROES, NvmeSpec.IO_DSM -> 0;
            default -> -1;
        };
        if (bytes < 0) return false; // not an I/O command: its error costs nothing
        long wait = ns.limiter.consume(1, bytes);
        if (wait == 0) return false;
        long until = System.nanoTime() + wait;
        if (throttledUntil == 0 || until - throttledUntil < 0) throttledUntil = until;
        return true;
    }

    /** Fetches, runs and completes the command at the queue's head; false if the controller failed. */
    private boolean runOne(SubmissionQueue sq, CompletionQueue cq) {
        try {
            command.load(memory, sq.entryAddress());
            sq.advance();
            resultDw0 = 0;
            int status = sq.id == 0 ? admin.execute(command) : io.execute(command, sq);
            if (status != NvmeSpec.SUCCESS && status != NvmeSpec.DEFERRED) counters.failed.increment();
            if (status != NvmeSpec.DEFERRED) cq.post(memory, resultDw0, sq.head, sq.id, command.cid, status);
            return true;
        } catch (GuestMemoryException e) { // queues were checked to be RAM when created: cannot happen
            fatal("queue memory became inaccessible: " + e.getMessage());
            return false;
        } catch (RuntimeException e) {
            LOG.log(java.util.logging.Level.SEVERE, "nvme: command failed; the controller stops", e);
            fatal(e.toString());
            return false;
        }
    }

    /** Completes an outstanding Asynchronous Event Request with a pending event, if both exist. */
    private void deliverEvents() {
        CompletionQueue acq0 = cqs[0];
        SubmissionQueue asq0 = sqs[0];
        if (!namespaceEventPending || outstandingEvents.isEmpty() || acq0 == null || asq0 == null) return;
        if (acq0.full(doorbells.cqHead(0))) {
            cqBlocked.set(0, 1);
            return;
        }
        acq0.post(memory, NvmeSpec.EVENT_NAMESPACE_CHANGED, asq0.head, 0, outstandingEvents.removeFirst(), NvmeSpec.SUCCESS);
        namespaceEventPending = false;
        namespaceEventMasked = true;
        counters.events.increment();
    }

    private void fireInterrupts() {
        for (CompletionQueue cq : cqs) {
            if (cq == null || !cq.needsInterrupt) continue;
            cq.needsInterrupt = false;
            if (cq.interrupts) interrupt.accept(cq.vector);
        }
    }

    /** Controller Fatal Status: the driver resets the controller (it sees CSTS.CFS, or times out). */
    private void fatal(String why) {
        guestError(why);
        csts |= NvmeSpec.CSTS_CFS;
    }

    void guestError(String what) {
        long n = guestErrors.incrementAndGet();
        if (n <= LOGGED_GUEST_ERRORS) {
            LOG.warning("nvme " + identity.serial() + ": guest error: " + what + (n == LOGGED_GUEST_ERRORS ? " (further ones not logged)" : ""));
        }
    }

    public long guestErrors() { return guestErrors.get(); }

    /** Counters for metrics (see {@link NvmeCounters}); any thread. */
    public Map<String, Long> counters() {
        Map<String, Long> all = new TreeMap<>(counters.snapshot());
        all.put("guest_errors", guestErrors.get());
        long throttled = 0, wakes = 0;
        lock.lock();
        try {
            for (NvmeNamespace ns : namespaces) {
                if (ns == null) continue;
                throttled += ns.limiter.throttledEvents();
                wakes += ns.limiter.wakeEvents();
            }
        } finally {
            lock.unlock();
        }
        all.put("rate_limiter_throttled_events", throttled);
        all.put("rate_limiter_event_count", wakes);
        return all;
    }

    @Override
    public void close() {
        lock.lock();
        try {
            for (int id = 1; id < namespaces.length; id++) {
                if (namespaces[id] != null) namespaces[id].close();
                namespaces[id] = null;
            }
        } finally {
            lock.unlock();
        }
    }
}
