package dev.flint.devices.nvme;

import dev.flint.machine.GuestMemory;

import java.lang.invoke.VarHandle;

/**
 * A completion queue in guest memory: the controller writes 16-byte entries at its tail with the phase
 * bit, the driver consumes them and reports its head through the CQ head doorbell. Used by the I/O
 * thread only; the doorbell value arrives through {@link Doorbells}.
 */
final class CompletionQueue {
    final int id;
    final long base;
    final int size;
    /** MSI-X vector, and whether the driver wants interrupts at all (IEN). */
    final int vector;
    final boolean interrupts;
    int tail;
    boolean phase = true;
    /** Submission queues that post here; a CQ with any cannot be deleted. */
    int submissionQueues;
    /** Entries promised to commands whose I/O is in the batch under way (they post when it ends). */
    int reserved;
    /** Entries were posted since the last interrupt. */
    boolean needsInterrupt;

    CompletionQueue(int id, long base, int size, int vector, boolean interrupts) {
        this.id = id;
        this.base = base;
        this.size = size;
        this.vector = vector;
        this.interrupts = interrupts;
    }

    /**
     * True when one more entry (beyond those {@link #reserved}) would overwrite one the driver has not
     * consumed ({@code head} from the doorbell).
     */
    boolean full(int head) {
        return Math.floorMod(head - tail - 1, size) <= reserved;
    }

    /**
     * Writes one completion: dword 0, SQ head and ID, then command ID, phase and status last, behind a
     * store fence, so a driver polling the phase bit never sees a half-written entry.
     */
    void post(GuestMemory memory, int dw0, int sqHead, int sqId, int cid, int status) {
        long entry = base + (long) tail * NvmeSpec.CQ_ENTRY;
        memory.writeInt(entry, dw0);
        memory.writeInt(entry + 4, 0);
        memory.writeInt(entry + 8, (sqHead & 0xFFFF) | sqId << 16);
        VarHandle.storeStoreFence();
        int sc = status & 0xFF, sct = (status >>> 8) & 7, dnr = (status & NvmeSpec.DNR) != 0 ? 1 : 0;
        memory.writeInt(entry + 12, (cid & 0xFFFF) | (phase ? 1 << 16 : 0) | sc << 17 | sct << 25 | dnr << 31);
        if (++tail == size) {
            tail = 0;
            phase = !phase;
        }
        needsInterrupt = true;
    }
}
