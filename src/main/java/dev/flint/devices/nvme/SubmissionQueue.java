package dev.flint.devices.nvme;

/**
 * A submission queue in guest memory: the driver writes 64-byte commands and moves the tail through the
 * SQ tail doorbell ({@link Doorbells}); the I/O thread consumes them from {@link #head}.
 */
final class SubmissionQueue {
    final int id;
    final long base;
    final int size;
    final CompletionQueue cq;
    int head;

    SubmissionQueue(int id, long base, int size, CompletionQueue cq) {
        this.id = id;
        this.base = base;
        this.size = size;
        this.cq = cq;
    }

    long entryAddress() { return base + (long) head * NvmeSpec.SQ_ENTRY; }

    void advance() { head = (head + 1) % size; }
}
