package dev.flint.devices.nvme;

import dev.flint.machine.GuestMemory;

import java.lang.invoke.VarHandle;

/**
 * The Doorbell Buffer Config pages (NVMe 1.3+, admin opcode 0x7C): the driver writes each I/O queue's
 * SQ tail and CQ head into a page of guest memory (same layout as the doorbell registers: SQ y at
 * {@code 8y}, CQ y at {@code 8y + 4}), and rings the real register only when the value passes the
 * event index the controller keeps in a second page. So while the I/O thread is busy the driver rings
 * nothing, and a ring carries no information the controller needs: it can arrive as a bare eventfd
 * signal (kvm ioeventfd). The admin queue always uses the registers. Owned by the I/O thread under the
 * controller's lock; both pages were checked to be RAM when configured.
 */
final class ShadowDoorbells {
    private final GuestMemory memory;
    final long doorbells, eventIndexes;

    ShadowDoorbells(GuestMemory memory, long doorbells, long eventIndexes) {
        this.memory = memory;
        this.doorbells = doorbells;
        this.eventIndexes = eventIndexes;
    }

    /** Whether both pages lie in RAM (checked once, when the driver configures them). */
    static boolean valid(GuestMemory memory, long doorbells, long eventIndexes) {
        return (doorbells & (NvmeSpec.PAGE - 1)) == 0 && (eventIndexes & (NvmeSpec.PAGE - 1)) == 0
                && memory.isRam(doorbells, NvmeSpec.PAGE) && memory.isRam(eventIndexes, NvmeSpec.PAGE);
    }

    int sqTail(int q) {
        VarHandle.acquireFence();
        return memory.readInt(doorbells + 8L * q) & 0xFFFF;
    }

    int cqHead(int q) {
        VarHandle.acquireFence();
        return memory.readInt(doorbells + 8L * q + 4) & 0xFFFF;
    }

    /**
     * Tells the driver to ring once its SQ tail moves past {@code tail}, then fences: the caller re-reads
     * the tail after this, so a submission the driver made without ringing is never missed.
     */
    void wantSqRingAfter(int q, int tail) {
        memory.writeInt(eventIndexes + 8L * q, tail);
        VarHandle.fullFence();
    }

    /** Tells the driver to ring once its CQ head moves past {@code head} (the controller waits for room). */
    void wantCqRingAfter(int q, int head) {
        memory.writeInt(eventIndexes + 8L * q + 4, head);
        VarHandle.fullFence();
    }
}
