package dev.flint.devices.virtio;

import dev.flint.machine.GuestMemory;
import dev.flint.machine.GuestMemoryException;

import java.lang.invoke.VarHandle;

/**
 * A split virtqueue: the descriptor table, the available ring the driver fills and the used ring the
 * device fills, all in guest RAM and read only through {@link GuestMemory}'s checked accessors.
 *
 * <p>Two sides touch an instance. The transport (vCPU threads, under its lock) programs size and
 * addresses while the queue is disabled; publishing {@link #enable()} (a volatile write) hands the
 * configuration to the device side. The device side ({@link #pop}/{@link #pushUsed}) runs only on the
 * device's I/O thread, under the transport's work lock, which reset also takes.
 */
public final class Virtqueue {
    static final int DESCRIPTOR_SIZE = 16;
    static final int F_NEXT = 1, F_WRITE = 2, F_INDIRECT = 4;
    static final int AVAIL_F_NO_INTERRUPT = 1;

    private final int maxSize;
    private int size;
    private long descTable, availRing, usedRing;
    private int msixVector = VirtioSpec.NO_VECTOR;
    private volatile boolean ready;

    private int lastAvail, usedIdx; // device side only
    /** The used index the driver was last shown ({@link #publishUsed}); device side only. */
    private int publishedUsed;
    /** VIRTIO_F_EVENT_IDX was negotiated (device side; set before DRIVER_OK is published). */
    private boolean eventIdx;
    /** The used index at the last interrupt decision, and whether there was one since reset (event-idx only). */
    private int signalledUsed;
    private boolean signalledValid;

    public Virtqueue(int maxSize) {
        if (maxSize < 1 || maxSize > 32768 || Integer.bitCount(maxSize) != 1) {
            throw new IllegalArgumentException("queue size must be a power of two up to 32768");
        }
        this.maxSize = maxSize;
        this.size = maxSize;
    }

    // ---- driver-facing configuration (transport) ----

    public int maxSize() { return maxSize; }
    public int size() { return size; }
    public boolean ready() { return ready; }
    public long descTable() { return descTable; }
    public long availRing() { return availRing; }
    public long usedRing() { return usedRing; }
    public int msixVector() { return msixVector; }

    /** The driver may shrink the queue to another power of two before enabling it; anything else is ignored. */
    public void setSize(int value) {
        if (!ready && value >= 1 && value <= maxSize && Integer.bitCount(value) == 1) size = value;
    }

    public void setDescTable(long gpa) { if (!ready) descTable = gpa; }
    public void setAvailRing(long gpa) { if (!ready) availRing = gpa; }
    public void setUsedRing(long gpa) { if (!ready) usedRing = gpa; }
    public void setMsixVector(int vector) { msixVector = vector; }

    public void enable() { ready = true; }

    /** Back to the reset state (the transport holds the work lock, so the I/O thread is not inside). */
    public void reset() {
        ready = false;
        size = maxSize;
        descTable = availRing = usedRing = 0;
        msixVector = VirtioSpec.NO_VECTOR;
        lastAvail = usedIdx = publishedUsed = 0;
        eventIdx = false;
        signalledValid = false;
    }

    /**
     * Whether the driver negotiated VIRTIO_F_EVENT_IDX. The transport sets it when the driver sets DRIVER_OK
     * (and after a restore), before the device side first serves the queue.
     */
    public void useEventIdx(boolean on) {
        eventIdx = on;
        signalledValid = false; // the first decision after this always interrupts
    }

    /**
     * True when the used index moving from {@code old} to {@code now} passes {@code event}: the driver asked to
     * hear of the entry at index {@code event} (the specification's vring_need_event, modulo 2^16).
     */
    static boolean passes(int event, int now, int old) {
        return ((now - event - 1) & 0xFFFF) < ((now - old) & 0xFFFF);
    }

    /** Snapshot: the driver's programming and the device's ring positions (the rings live in RAM). */
    void save(dev.flint.machine.state.StateWriter.Section out) {
        out.putInt(size).putLong(descTable).putLong(availRing).putLong(usedRing).putInt(msixVector)
                .putBoolean(ready).putInt(lastAvail).putInt(usedIdx);
    }

    void restore(dev.flint.machine.state.StateReader.Section in) {
        int n = in.getInt();
        if (n < 1 || n > maxSize || Integer.bitCount(n) != 1) {
            throw new dev.flint.machine.state.SnapshotException("virtqueue size " + n + " does not fit this device (max " + maxSize + ")");
        }
        size = n;
        descTable = in.getLong();
        availRing = in.getLong();
        usedRing = in.getLong();
        msixVector = in.getInt();
        boolean on = in.getBoolean();
        lastAvail = in.getInt() & 0xFFFF;
        usedIdx = in.getInt() & 0xFFFF;
        publishedUsed = usedIdx;
        ready = on;
    }

    /**
     * Why the rings cannot be used as programmed, or null: each must lie in RAM with the alignment the
     * split-ring layout requires. Checked once when the driver sets DRIVER_OK.
     */
    public String layoutProblem(GuestMemory memory) {
        if ((descTable & 15) != 0 || (availRing & 1) != 0 || (usedRing & 3) != 0) return "misaligned ring";
        if (!memory.isRam(descTable, (long) DESCRIPTOR_SIZE * size)) return "descriptor table outside RAM";
        if (!memory.isRam(availRing, 6 + 2L * size)) return "available ring outside RAM";
        if (!memory.isRam(usedRing, 6 + 8L * size)) return "used ring outside RAM";
        return null;
    }

    /** The next available-ring index the device would read (what a vhost-user GET_VRING_BASE reports). */
    public int nextAvail() { return lastAvail; }

    /**
     * Resumes a queue served elsewhere before (a vhost-user back end taking over a ring): the next
     * available index to read and the used index already published.
     */
    public void resumeAt(int nextAvail, int used) {
        lastAvail = nextAvail & 0xFFFF;
        usedIdx = used & 0xFFFF;
        publishedUsed = usedIdx;
    }

    // ---- device side (I/O thread) ----

    /** The device side's walk target, refilled by every {@link #pop}/{@link #popInto} (I/O thread only). */
    private final ChainView walked = new ChainView();

    /**
     * The next available chain, or null when the driver has published nothing new.
     *
     * @throws VirtqueueException if the driver broke the ring protocol
     */
    public DescriptorChain pop(GuestMemory memory, boolean indirectAllowed) {
        return popInto(memory, indirectAllowed, walked) ? walked.toChain() : null;
    }

    /**
     * The next available chain into {@code into} (its arrays reused: nothing is allocated per request); false when
     * the driver has published nothing new. {@link #view} is the queue's own target for the I/O thread.
     *
     * @throws VirtqueueException if the driver broke the ring protocol
     */
    public boolean popInto(GuestMemory memory, boolean indirectAllowed, ChainView into) {
        try {
            int availIdx = memory.readShort(availRing + 2) & 0xFFFF;
            int pending = (availIdx - lastAvail) & 0xFFFF;
            if (pending == 0) {
                if (!eventIdx) return false;
                // Ask for a notification at the next entry, then look once more: an entry the driver published
                // before it could see this avail_event came with no notification, and must not be left behind.
                memory.writeShort(usedRing + 4 + 8L * size, (short) lastAvail);
                VarHandle.fullFence();
                availIdx = memory.readShort(availRing + 2) & 0xFFFF;
                pending = (availIdx - lastAvail) & 0xFFFF;
                if (pending == 0) return false;
            }
            if (pending > size) {
                throw new VirtqueueException("available index moved by " + pending + " on a queue of " + size);
            }
            VarHandle.acquireFence(); // ring entries are read after the index that published them
            int head = memory.readShort(availRing + 4 + 2L * (lastAvail & (size - 1))) & 0xFFFF;
            lastAvail = (lastAvail + 1) & 0xFFFF;
            if (head >= size) throw new VirtqueueException("head descriptor " + head + " on a queue of " + size);
            walk(memory, head, indirectAllowed, into);
            return true;
        } catch (GuestMemoryException e) {
            throw new VirtqueueException("ring or descriptor table outside RAM: " + e.getMessage());
        }
    }

    /** The queue's own walk target, for {@link #popInto} on the I/O thread (overwritten by every pop). */
    public ChainView view() { return walked; }

    private void walk(GuestMemory memory, int head, boolean indirectAllowed, ChainView into) {
        into.start(head);
        long table = descTable;
        int tableLength = size, index = head;
        int budget = size; // a chain longer than the table must revisit a descriptor: a loop
        boolean indirect = false, sawWritable = false;
        while (true) {
            if (budget-- == 0) throw new VirtqueueException("descriptor chain loops or exceeds the queue size");
            long d = table + (long) DESCRIPTOR_SIZE * index;
            long address = memory.readLong(d);
            long length = memory.readInt(d + 8) & 0xFFFF_FFFFL;
            int flags = memory.readShort(d + 12) & 0xFFFF;
            int next = memory.readShort(d + 14) & 0xFFFF;
            if ((flags & F_INDIRECT) != 0) {
                if (!indirectAllowed) throw new VirtqueueException("indirect descriptor without the feature");
                if (indirect) throw new VirtqueueException("nested indirect descriptor");
                if ((flags & F_NEXT) != 0) throw new VirtqueueException("indirect descriptor with NEXT");
                // The bound is the device's largest queue, not this ring's size: a driver sizes its chains
                // by the device's seg_max, so Linux on a 128-entry ring (QEMU's vhost-user-blk default)
                // sends 256-entry tables. The walk stays bounded either way.
                if (length == 0 || length % DESCRIPTOR_SIZE != 0 || length / DESCRIPTOR_SIZE > Math.max(size, maxSize)) {
                    throw new VirtqueueException("indirect table of " + length + " bytes");
                }
                indirect = true;
                table = address;
                tableLength = (int) (length / DESCRIPTOR_SIZE);
                budget = tableLength;
                index = 0;
                continue;
            }
            boolean writable = (flags & F_WRITE) != 0;
            if (!writable && sawWritable) throw new VirtqueueException("device-readable buffer after a writable one");
            sawWritable |= writable;
            into.add(address, length, writable);
            if ((flags & F_NEXT) == 0) return;
            if (next >= tableLength) throw new VirtqueueException("next descriptor " + next + " out of range");
            index = next;
        }
    }

    /**
     * Puts the chain {@link #pop} returned last back at the front of the ring, so the next pop returns it again
     * (a rate-limited device that cannot serve it yet). Only right after that pop.
     */
    public void undoPop() {
        lastAvail = (lastAvail - 1) & 0xFFFF;
    }

    /** Returns a chain to the driver with the number of bytes the device wrote into it. */
    public void pushUsed(GuestMemory memory, int head, int written) {
        addUsed(memory, head, written);
        publishUsed(memory);
    }

    /**
     * Writes a used entry without publishing it: a batch writes each of its entries, then moves the used
     * index once with {@link #publishUsed}, so the driver sees the whole batch at one index update.
     */
    public void addUsed(GuestMemory memory, int head, int written) {
        try {
            long entry = usedRing + 4 + 8L * (usedIdx & (size - 1));
            memory.writeInt(entry, head);
            memory.writeInt(entry + 4, written);
            usedIdx = (usedIdx + 1) & 0xFFFF;
        } catch (GuestMemoryException e) {
            throw new VirtqueueException("used ring outside RAM: " + e.getMessage());
        }
    }

    /** Publishes every entry {@link #addUsed} wrote. */
    public void publishUsed(GuestMemory memory) {
        try {
            VarHandle.releaseFence(); // the entries are visible before the index that publishes them
            memory.writeShort(usedRing + 2, (short) usedIdx);
            publishedUsed = usedIdx;
        } catch (GuestMemoryException e) {
            throw new VirtqueueException("used ring outside RAM: " + e.getMessage());
        }
    }

    /**
     * Publishes the entries {@link #addUsed} wrote since the last publication, if there are any; false (and no
     * store to the ring) when there are none. A batch is at most a queue's worth, so the 16-bit index cannot have
     * come round to where it was.
     */
    public boolean publishUsedIfAny(GuestMemory memory) {
        if (usedIdx == publishedUsed) return false;
        publishUsed(memory);
        return true;
    }

    /**
     * Whether the driver wants an interrupt for the used entries published since the last call (it may
     * suppress them while polling): with event-idx, whether the used index passed the driver's used_event
     * since the last decision; otherwise the available ring's NO_INTERRUPT flag.
     */
    public boolean interruptWanted(GuestMemory memory) {
        VarHandle.fullFence(); // read the flag or event after publishing the used index
        try {
            if (eventIdx) {
                int event = memory.readShort(availRing + 4 + 2L * size) & 0xFFFF;
                int old = signalledUsed;
                boolean valid = signalledValid;
                signalledUsed = usedIdx;
                signalledValid = true;
                return !valid || passes(event, usedIdx, old);
            }
            return (memory.readShort(availRing) & AVAIL_F_NO_INTERRUPT) == 0;
        } catch (GuestMemoryException e) {
            throw new VirtqueueException("available ring outside RAM: " + e.getMessage());
        }
    }
}
