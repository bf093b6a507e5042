package dev.flint.devices.virtio.block;

import dev.flint.devices.HaltPolling;
import dev.flint.devices.RecordingInterrupts;
import dev.flint.devices.virtio.VirtioTestDriver;
import dev.flint.machine.bus.Bus;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The benchmark's guest-side virtio-blk driver, modelled on what Linux's virtio_blk does at a fixed
 * iodepth: {@code depth} requests stay in flight. Each slot owns a chain of three descriptors (header,
 * data, status) built once, as the kernel's request slots are; refilling a slot rewrites only its header's
 * type and sector and puts its head in the available ring. On each interrupt the driver takes every used
 * entry, refills those slots at once, publishes the available index once, and notifies only when the
 * device asked for it (event-idx: the new index passed the device's {@code avail_event}), so the device
 * keeps working while the driver refills. Before sleeping it sets {@code used_event} to what it has seen
 * (as virtqueue_enable_cb does) and looks once more. No allocation per request; guest RAM is written
 * through its segment, as a kernel writes its own memory.
 *
 * <p>The rig must have negotiated VIRTIO_F_EVENT_IDX and MSI-X, with the queue at {@code queue}.
 */
final class PipelinedBlockDriver {
    /** How the driver waits for its interrupt: as KVM halt-polls a vCPU ({@link HaltPolling}), one window per run. */
    private final HaltPolling halting = HaltPolling.fromProperty();

    /** How the driver's halts went (counts). */
    HaltPolling halting() { return halting; }

    private static final VarHandle SHORT = JAVA_SHORT.varHandle(); // aligned: ring indexes are read and written atomically

    private final MemorySegment ram;
    private final Bus mmio;
    private final VirtioTestDriver driver;
    private final VirtioTestDriver.Queue queue;
    private final RecordingInterrupts irq;
    private final long headers, statuses, buffers;
    private final int depth, bufferBytes, mask;
    private long notifications;
    private final long availIdxAt, availRingAt, usedEventAt, usedIdxAt, usedRingAt, availEventAt;

    /**
     * Slot j: header at {@code headers + 16 j}, status byte at {@code statuses + j}, data at
     * {@code buffers + j * bufferBytes}; descriptors 3j, 3j+1, 3j+2.
     */
    PipelinedBlockDriver(BlockRig rig, int depth, long headers, long statuses, long buffers, int bufferBytes) {
        this.ram = rig.memory.segment();
        this.mmio = rig.mmio;
        this.driver = rig.driver;
        this.queue = rig.queue;
        this.irq = rig.irq;
        this.depth = depth;
        this.headers = headers;
        this.statuses = statuses;
        this.buffers = buffers;
        this.bufferBytes = bufferBytes;
        this.mask = queue.size - 1;
        if (3 * depth > queue.size) throw new IllegalArgumentException("depth " + depth + " needs " + 3 * depth + " descriptors");
        if ((rig.features & dev.flint.devices.virtio.VirtioSpec.F_EVENT_IDX) == 0) throw new IllegalStateException("event-idx not negotiated");
        availIdxAt = queue.avail + 2;
        availRingAt = queue.avail + 4;
        usedEventAt = queue.avail + 4 + 2L * queue.size;
        usedIdxAt = queue.used + 2;
        usedRingAt = queue.used + 4;
        availEventAt = queue.used + 4 + 8L * queue.size;
    }

    /** Notifications (kicks) sent so far. */
    long notifications() { return notifications; }

    /** Serves every request ({@code sectors[i]}, write or read of {@code bufferBytes}); false if the device asked for a reset. */
    boolean run(long[] sectors, boolean write, long timeoutNanos) {
        buildChains(write);
        int n = sectors.length, next = 0, done = 0;
        int avail = queue.availIndex(), usedSeen = queue.usedSeen();
        for (; next < Math.min(depth, n); next++) { // fill every slot, publish, notify
            fill(next, sectors[next]);
            SHORT.set(ram, availRingAt + 2L * (avail & mask), (short) (3 * next));
            avail = (avail + 1) & 0xFFFF;
        }
        publish(avail, true);
        long deadline = System.nanoTime() + timeoutNanos;
        while (done < n) {
            long seen = irq.signals(); // before the look: an interrupt after it wakes the sleep
            int used = (short) SHORT.getVolatile(ram, usedIdxAt) & 0xFFFF;
            if (used == usedSeen) {
                SHORT.setVolatile(ram, usedEventAt, (short) usedSeen); // interrupt me at the next used entry
                VarHandle.fullFence();
                if (((short) SHORT.getVolatile(ram, usedIdxAt) & 0xFFFF) != usedSeen) continue;
                if ((driver.status() & 0x40) != 0) return false;
                if (System.nanoTime() > deadline) throw new IllegalStateException("device stalled: " + done + " of " + n + " done");
                halting.halt(irq, seen, 1_000_000); // bounded: a lost interrupt costs a millisecond, not a hang
                continue;
            }
            VarHandle.acquireFence(); // entries after the index that published them
            for (; usedSeen != used; usedSeen = (usedSeen + 1) & 0xFFFF) {
                int head = ram.get(JAVA_INT_UNALIGNED, usedRingAt + 8L * (usedSeen & mask));
                int slot = head / 3;
                if (head % 3 != 0 || slot >= depth) throw new IllegalStateException("used head " + head + " is no request of ours");
                byte status = ram.get(JAVA_BYTE, statuses + slot);
                if (status != 0) throw new IllegalStateException("request failed with status " + status);
                done++;
                if (next < n) { // the freed slot takes the next request at once
                    fill(slot, sectors[next++]);
                    SHORT.set(ram, availRingAt + 2L * (avail & mask), (short) head);
                    avail = (avail + 1) & 0xFFFF;
                }
            }
            publish(avail, false); // once per interrupt's worth, as blk-mq commits a batch
        }
        return true; // the rig is closed after this: the ordinary driver's bookkeeping is not brought up to date
    }

    /**
     * Publishes {@code avail} if it moved; notifies when forced or when the device's avail_event lies among the
     * entries added since the last publication (vring_need_event, as virtqueue_kick_prepare decides).
     */
    private void publish(int avail, boolean force) {
        int old = (short) SHORT.get(ram, availIdxAt) & 0xFFFF;
        if (old == avail && !force) return;
        SHORT.setRelease(ram, availIdxAt, (short) avail); // the ring entries before the index
        VarHandle.fullFence(); // read avail_event after publishing (virtqueue_kick_prepare's barrier)
        int event = (short) SHORT.getVolatile(ram, availEventAt) & 0xFFFF;
        if (force || ((avail - event - 1) & 0xFFFF) < ((avail - old) & 0xFFFF)) {
            queue.kick();
            notifications++;
        }
    }

    private void buildChains(boolean write) {
        for (int j = 0; j < depth; j++) {
            descriptor(3 * j, headers + 16L * j, 16, 1, 3 * j + 1);
            descriptor(3 * j + 1, buffers + (long) j * bufferBytes, bufferBytes, 1 | (write ? 0 : 2), 3 * j + 2);
            descriptor(3 * j + 2, statuses + j, 1, 2, 0);
            ram.set(JAVA_INT_UNALIGNED, headers + 16L * j, write ? VirtioBlock.T_OUT : VirtioBlock.T_IN);
            ram.set(JAVA_INT_UNALIGNED, headers + 16L * j + 4, 0);
        }
    }

    private void descriptor(int index, long address, int length, int flags, int next) {
        long at = queue.desc + 16L * index;
        ram.set(JAVA_LONG_UNALIGNED, at, address);
        ram.set(JAVA_INT_UNALIGNED, at + 8, length);
        SHORT.set(ram, at + 12, (short) flags);
        SHORT.set(ram, at + 14, (short) next);
    }

    private void fill(int slot, long sector) {
        ram.set(JAVA_LONG_UNALIGNED, headers + 16L * slot + 8, sector);
        ram.set(JAVA_BYTE, statuses + slot, (byte) 0x7F); // a request the device did not answer shows as failed
    }
}
