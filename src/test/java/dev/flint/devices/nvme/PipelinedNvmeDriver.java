package dev.flint.devices.nvme;

import dev.flint.devices.HaltPolling;
import dev.flint.devices.RecordingInterrupts;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * The benchmark's NVMe driver, modelled on Linux's nvme driver at a fixed iodepth: {@code depth} commands
 * stay in flight on one I/O queue pair. Slot j's command (its command ID is j, as blk-mq's tag is; its
 * buffer and PRP list fixed) is built once; refilling a slot copies that 64-byte entry to the submission
 * tail and sets its starting LBA. On each interrupt the driver takes every completion the phase bit shows,
 * refills those slots at once, updates the CQ head once and the SQ tail once (as nvme_irq and blk-mq's
 * commit do), and sleeps until the next interrupt. Doorbells go through the Doorbell Buffer Config pages
 * when the controller offers them, as Linux's nvme_dbbuf_update_and_check_event does: the driver writes the
 * new value into the shadow page and rings the register only when it passes the event index the controller
 * left (the controller was idle); otherwise the register each time. No allocation per command; guest RAM is
 * written through its segment, as a kernel writes its own memory.
 */
final class PipelinedNvmeDriver {
    /** How the driver waits for its interrupt: as KVM halt-polls a vCPU ({@link HaltPolling}), one window per run. */
    private final HaltPolling halting = HaltPolling.fromProperty();

    /** How the driver's halts went (counts). */
    public HaltPolling halting() { return halting; }

    private static final int SQE = 64, CQE = 16;
    private static final VarHandle INT = java.lang.foreign.ValueLayout.JAVA_INT.varHandle(); // aligned: read with volatile semantics

    private final MemorySegment ram;
    private final NvmeRig rig;
    private final NvmeTestDriver.Queue queue;
    private final RecordingInterrupts irq;
    private final int depth, bufferBytes;
    private final long buffers, lists;
    private final MemorySegment templates = Arena.ofAuto().allocate(64L * 256, 64);

    /** The shadow doorbell page and the event index page (0: the registers only). */
    private final long shadow, eventIndexes;
    /** Register writes (SQ tail and CQ head) the driver made: with shadow doorbells, only where the controller asked. */
    long registerWrites;

    PipelinedNvmeDriver(NvmeRig rig, NvmeTestDriver.Queue queue, int depth, long buffers, int bufferBytes, long lists) {
        this(rig, queue, depth, buffers, bufferBytes, lists, 0, 0);
    }

    /** With shadow doorbells at {@code shadow} and {@code eventIndexes} (configured already; 0: none). */
    PipelinedNvmeDriver(NvmeRig rig, NvmeTestDriver.Queue queue, int depth, long buffers, int bufferBytes, long lists,
            long shadow, long eventIndexes) {
        this.shadow = shadow;
        this.eventIndexes = eventIndexes;
        if (depth >= queue.size || depth > 256) throw new IllegalArgumentException("depth " + depth + " on a queue of " + queue.size);
        this.ram = rig.memory.segment();
        this.rig = rig;
        this.queue = queue;
        this.irq = rig.irq;
        this.depth = depth;
        this.buffers = buffers;
        this.bufferBytes = bufferBytes;
        this.lists = lists;
    }

    /** Serves every command (byte offsets and lengths of at most {@code bufferBytes}); throws on a failed or lost command. */
    void run(long[] offsets, int[] lengths, boolean[] writes, long timeoutNanos) {
        int n = offsets.length, next = 0, done = 0;
        int tail = queue.tail, head = queue.head;
        boolean phase = queue.phase;
        int[] slotLength = new int[depth];
        boolean[] slotWrite = new boolean[depth];
        for (; next < Math.min(depth, n); next++) {
            build(next, lengths[next], writes[next]);
            slotLength[next] = lengths[next];
            slotWrite[next] = writes[next];
            tail = submit(tail, next, offsets[next]);
        }
        ringSqTail(tail);
        long deadline = System.nanoTime() + timeoutNanos;
        while (done < n) {
            long seen = irq.signals(); // before the look: an interrupt after it wakes the sleep
            long entry = queue.cq + (long) head * CQE;
            int dw3 = (int) INT.getVolatile(ram, entry + 12);
            if (((dw3 >>> 16) & 1) != (phase ? 1 : 0)) {
                if (System.nanoTime() > deadline) throw new IllegalStateException("controller stalled: " + done + " of " + n + " done");
                halting.halt(irq, seen, 1_000_000); // bounded: a lost interrupt costs a millisecond, not a hang
                continue;
            }
            int submitted = 0;
            do { // every completion the phase bit shows, as nvme_poll_cq
                VarHandle.acquireFence();
                int slot = dw3 & 0xFFFF, status = dw3 >>> 17;
                if (slot >= depth) throw new IllegalStateException("completion for command " + slot + ", not ours");
                if (status != 0) throw new IllegalStateException("NVMe command failed, status 0x" + Integer.toHexString(status));
                done++;
                if (++head == queue.size) {
                    head = 0;
                    phase = !phase;
                }
                if (next < n) { // the freed slot takes the next command
                    if (lengths[next] != slotLength[slot] || writes[next] != slotWrite[slot]) { // another kind of command
                        build(slot, lengths[next], writes[next]);
                        slotLength[slot] = lengths[next];
                        slotWrite[slot] = writes[next];
                    }
                    tail = submit(tail, slot, offsets[next++]);
                    submitted++;
                }
                entry = queue.cq + (long) head * CQE;
                dw3 = (int) INT.getVolatile(ram, entry + 12);
            } while (((dw3 >>> 16) & 1) == (phase ? 1 : 0));
            ring(4, head); // CQ head, once per interrupt's worth
            if (submitted > 0) ringSqTail(tail);
        }
        queue.tail = tail;
        queue.head = head;
        queue.phase = phase;
    }

    /** Slot {@code j}'s command without its LBA: opcode, namespace 1, command ID j, the slot's PRPs, the block count. */
    private void build(int j, int length, boolean write) {
        MemorySegment t = templates.asSlice(64L * j, 64);
        t.fill((byte) 0);
        long buffer = buffers + (long) j * bufferBytes;
        long prp2 = length <= 4096 ? 0 : length <= 8192 ? buffer + 4096 : lists + 4096L * j;
        t.set(JAVA_BYTE, 0, (byte) (write ? NvmeSpec.IO_WRITE : NvmeSpec.IO_READ));
        t.set(JAVA_SHORT_UNALIGNED, 2, (short) j);
        t.set(JAVA_INT_UNALIGNED, 4, 1);
        t.set(JAVA_LONG_UNALIGNED, 24, buffer);
        t.set(JAVA_LONG_UNALIGNED, 32, prp2);
        t.set(JAVA_INT_UNALIGNED, 48, length / 512 - 1);
    }

    /** Copies slot {@code j}'s command to the tail with its starting LBA; returns the new tail. */
    private int submit(int tail, int j, long offset) {
        long at = queue.sq + (long) tail * SQE;
        MemorySegment.copy(templates, 64L * j, ram, at, SQE);
        ram.set(JAVA_LONG_UNALIGNED, at + 40, offset / 512); // CDW10-11: the starting LBA
        return tail + 1 == queue.size ? 0 : tail + 1;
    }

    /** SQ tail doorbells rung so far. */
    long doorbells;

    private void ringSqTail(int tail) {
        doorbells++;
        VarHandle.releaseFence(); // the entries before the doorbell
        ring(0, tail);
    }

    /** Sets the SQ tail ({@code which} 0) or CQ head (4) doorbell: the shadow page and, where needed, the register. */
    private void ring(int which, int value) {
        long register = NvmeTestDriver.BAR + 0x1000 + 8L * queue.id + which;
        if (shadow == 0) {
            rig.mmio.write(register, 4, value);
            registerWrites++;
            return;
        }
        long at = 8L * queue.id + which;
        int old = ram.get(JAVA_INT_UNALIGNED, shadow + at);
        INT.setVolatile(ram, shadow + at, value);
        VarHandle.fullFence(); // read the event index after the new value is visible (nvme_dbbuf_update_and_check_event)
        int event = (int) INT.getVolatile(ram, eventIndexes + at);
        if (((value - event - 1) & 0xFFFF) < ((value - old) & 0xFFFF)) {
            rig.mmio.write(register, 4, value);
            registerWrites++;
        }
    }
}
