package dev.flint.devices.nvme;

import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * The doorbell registers as the driver last wrote them: SQ y tail at {@code 0x1000 + 8y}, CQ y head at
 * {@code 0x1000 + 8y + 4} (CAP.DSTRD 0). vCPU threads store, the I/O thread loads; the values are the
 * guest's, checked against the queue's size before use.
 */
final class Doorbells {
    private final AtomicIntegerArray sqTail, cqHead;

    Doorbells(int queues) {
        sqTail = new AtomicIntegerArray(queues);
        cqHead = new AtomicIntegerArray(queues);
    }

    int queues() { return sqTail.length(); }

    /** Bytes of BAR the doorbells take. */
    long span() { return 8L * queues(); }

    int sqTail(int q) { return sqTail.get(q); }

    int cqHead(int q) { return cqHead.get(q); }

    void setSqTail(int q, int v) { sqTail.set(q, v); }

    void setCqHead(int q, int v) { cqHead.set(q, v); }

    /** Submission queue {@code q} was created or deleted: its tail starts at 0. */
    void clearSq(int q) { sqTail.set(q, 0); }

    /** Completion queue {@code q} was created or deleted: its head starts at 0. */
    void clearCq(int q) { cqHead.set(q, 0); }
}
