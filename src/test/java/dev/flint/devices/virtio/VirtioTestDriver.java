package dev.flint.devices.virtio;

import dev.flint.arch.x86.Layout;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.bus.Bus;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.LockSupport;

/**
 * A minimal guest-side virtio-pci driver for host tests and the benchmark: it talks to the device only
 * through PCI configuration cycles (0xCF8/0xCFC) and BAR registers, in the order Linux's virtio_pci
 * does, and builds split rings in {@link GuestMemory}. No JUnit here: problems throw IllegalStateException.
 */
public final class VirtioTestDriver {
    public static final long BAR_ADDRESS = 0xE000_0000L;

    private final Bus io, mmio;
    private final GuestMemory memory;
    private final int slot;
    private final Map<Integer, long[]> regions = new HashMap<>(); // cfg_type -> {offset, length}
    private int notifyMultiplier, msixCap, msixTable;
    /** Where {@link Queue#drain} sleeps between looks at the used ring: null, 20 µs naps; else the interrupt. */
    private dev.flint.devices.RecordingInterrupts sleepOn;

    public VirtioTestDriver(Bus io, Bus mmio, GuestMemory memory, int slot) {
        this.io = io;
        this.mmio = mmio;
        this.memory = memory;
        this.slot = slot;
    }

    public GuestMemory memory() { return memory; }

    /**
     * Has {@link Queue#drain} sleep until the device interrupts (as a halted vCPU does) instead of napping
     * 20 µs between looks: the benchmark's driver, whose naps would otherwise count as device latency.
     */
    public VirtioTestDriver sleepOnInterrupts(dev.flint.devices.RecordingInterrupts irq) {
        this.sleepOn = irq;
        return this;
    }

    public long cfgRead(int reg, int size) {
        io.write(Layout.PCI_CONFIG_ADDRESS_PORT, 4, 0x8000_0000L | (slot << 11) | (reg & 0xFC));
        return io.read(Layout.PCI_CONFIG_DATA_PORT + (reg & 3), size);
    }

    public void cfgWrite(int reg, int size, long value) {
        io.write(Layout.PCI_CONFIG_ADDRESS_PORT, 4, 0x8000_0000L | (slot << 11) | (reg & 0xFC));
        io.write(Layout.PCI_CONFIG_DATA_PORT + (reg & 3), size, value);
    }

    /** Capability walk, BAR sizing and placement, memory decode and bus mastering: what the PCI core does. */
    public VirtioTestDriver probe() {
        for (int ptr = (int) cfgRead(0x34, 1); ptr != 0; ptr = (int) cfgRead(ptr + 1, 1)) {
            int id = (int) cfgRead(ptr, 1);
            if (id == 0x09) {
                int type = (int) cfgRead(ptr + 3, 1);
                if (cfgRead(ptr + 4, 1) != 0) throw new IllegalStateException("capability outside BAR0");
                regions.putIfAbsent(type, new long[] {cfgRead(ptr + 8, 4), cfgRead(ptr + 12, 4)});
                if (type == 2) notifyMultiplier = (int) cfgRead(ptr + 16, 4);
            } else if (id == 0x11) {
                msixCap = ptr;
                msixTable = (int) cfgRead(ptr + 4, 4) & ~7;
            }
        }
        for (int type = 1; type <= 3; type++) {
            if (!regions.containsKey(type)) throw new IllegalStateException("missing virtio capability " + type);
        }
        cfgWrite(0x10, 4, 0xFFFF_FFFFL);
        cfgWrite(0x14, 4, 0xFFFF_FFFFL);
        long sizing = (cfgRead(0x10, 4) & ~0xFL) | cfgRead(0x14, 4) << 32;
        long size = ~sizing + 1;
        if ((cfgRead(0x10, 4) & 0x6) != 0x4) throw new IllegalStateException("BAR0 is not a 64-bit memory BAR");
        if (size <= 0 || Long.bitCount(size) != 1) throw new IllegalStateException("bad BAR size " + size);
        cfgWrite(0x10, 4, BAR_ADDRESS & 0xFFFF_FFFFL);
        cfgWrite(0x14, 4, BAR_ADDRESS >>> 32);
        cfgWrite(0x04, 2, cfgRead(0x04, 2) | 0x2 | 0x4);
        return this;
    }

    public long region(int type) {
        long[] r = regions.get(type);
        if (r == null) throw new IllegalStateException("no virtio capability " + type);
        return BAR_ADDRESS + r[0];
    }

    public long common(int offset, int size) { return mmio.read(region(1) + offset, size); }

    public void common(int offset, int size, long value) { mmio.write(region(1) + offset, size, value); }

    public long deviceConfig(int offset, int size) { return mmio.read(region(4) + offset, size); }

    public int readIsr() { return (int) mmio.read(region(3), 1); }

    public int status() { return (int) common(0x14, 1); }

    /**
     * Waits until {@code irq} has received {@code count} MSIs with {@code data} (the device publishes the
     * used entry first, then signals, so a driver that polled the ring can be ahead of the message).
     */
    public static void awaitMsis(dev.flint.devices.RecordingInterrupts irq, int data, int count) {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (true) {
            long seen;
            synchronized (irq) {
                seen = irq.msis.stream().filter(m -> m.data() == data).count();
            }
            if (seen == count) return;
            if (seen > count || System.nanoTime() > deadline) {
                throw new IllegalStateException(seen + " MSIs with data 0x" + Integer.toHexString(data) + ", expected " + count);
            }
            Thread.onSpinWait();
        }
    }

    /** Enables MSI-X and points each vector at a distinct message (data = 0x40 + vector). */
    public void enableMsix(int vectors) {
        if (msixCap == 0) throw new IllegalStateException("no MSI-X capability");
        for (int v = 0; v < vectors; v++) {
            long entry = BAR_ADDRESS + msixTable + 16L * v;
            mmio.write(entry, 4, 0xFEE0_0000L);
            mmio.write(entry + 4, 4, 0);
            mmio.write(entry + 8, 4, 0x40 + v);
            mmio.write(entry + 12, 4, 0);
        }
        cfgWrite(msixCap + 2, 2, 0x8000);
    }

    /**
     * Reset, ACKNOWLEDGE, DRIVER, negotiate, FEATURES_OK; returns the negotiated features (or throws).
     * {@code -1} takes everything offered but VIRTIO_F_EVENT_IDX: this driver does not keep used_event, so a
     * test that wants event-idx names it.
     */
    public long negotiate(long wanted) {
        if (wanted == -1L) wanted &= ~VirtioSpec.F_EVENT_IDX;
        common(0x14, 1, 0);
        if (status() != 0) throw new IllegalStateException("reset did not complete");
        common(0x14, 1, 1);
        common(0x14, 1, 1 | 2);
        common(0x00, 4, 0);
        long offered = common(0x04, 4);
        common(0x00, 4, 1);
        offered |= common(0x04, 4) << 32;
        long features = offered & wanted;
        common(0x08, 4, 0);
        common(0x0C, 4, features & 0xFFFF_FFFFL);
        common(0x08, 4, 1);
        common(0x0C, 4, features >>> 32);
        common(0x14, 1, 1 | 2 | 8);
        if ((status() & 8) == 0) throw new IllegalStateException("device refused features " + Long.toHexString(features));
        return features;
    }

    public long offeredFeatures() {
        common(0x00, 4, 0);
        long offered = common(0x04, 4);
        common(0x00, 4, 1);
        return offered | common(0x04, 4) << 32;
    }

    public void driverOk() { common(0x14, 1, 1 | 2 | 8 | 4); }

    /** Sets up queue {@code index} with {@code size} entries in RAM at {@code base} (page aligned). */
    public Queue setupQueue(int index, int size, long base, int msixVector) {
        common(0x16, 2, index);
        int max = (int) common(0x18, 2);
        if (size > max) throw new IllegalStateException("queue " + index + " holds at most " + max);
        common(0x18, 2, size);
        Queue q = new Queue(index, size, base, region(2) + common(0x1E, 2) * notifyMultiplier);
        for (long a = base; a < q.used + 6 + 8L * size; a += 8) memory.writeLong(a, 0);
        writeAddress(0x20, q.desc);
        writeAddress(0x28, q.avail);
        writeAddress(0x30, q.used);
        common(0x1A, 2, msixVector);
        if (common(0x1A, 2) != msixVector) throw new IllegalStateException("vector " + msixVector + " refused");
        common(0x1C, 2, 1);
        return q;
    }

    private void writeAddress(int offset, long gpa) {
        common(offset, 4, gpa & 0xFFFF_FFFFL);
        common(offset + 4, 4, gpa >>> 32);
    }

    /** One segment of a request: guest-physical address, length, device-writable or not. */
    public record Segment(long address, long length, boolean writable) {
        public static Segment in(long address, long length) { return new Segment(address, length, false); }
        public static Segment out(long address, long length) { return new Segment(address, length, true); }
    }

    /** The driver's half of a split ring. Chains use consecutive descriptors from a rotating cursor. */
    public final class Queue {
        public final int index, size;
        public final long desc, avail, used, notifyAddress;
        private int nextDescriptor, availIdx, usedSeen;

        /** The descriptor table at {@code base}, the available ring after it, the used ring on the next page. */
        Queue(int index, int size, long base, long notifyAddress) {
            this.index = index;
            this.size = size;
            this.notifyAddress = notifyAddress;
            desc = base;
            avail = base + 16L * size;
            used = (avail + 6 + 2L * size + 4095) & ~4095L;
        }

        /** Writes a chain of direct descriptors and returns its head index (not yet published). */
        public int addChain(List<Segment> segments) {
            int head = nextDescriptor;
            for (int i = 0; i < segments.size(); i++) {
                int d = (head + i) % size;
                boolean last = i == segments.size() - 1;
                writeDescriptor(desc + 16L * d, segments.get(i), last ? 0 : 1, (d + 1) % size);
            }
            nextDescriptor = (head + segments.size()) % size;
            return head;
        }

        /** One descriptor pointing at an indirect table (built at {@code table}) holding the chain. */
        public int addIndirect(List<Segment> segments, long table) {
            for (int i = 0; i < segments.size(); i++) {
                boolean last = i == segments.size() - 1;
                writeDescriptor(table + 16L * i, segments.get(i), last ? 0 : 1, i + 1);
            }
            int head = nextDescriptor;
            memory.writeLong(desc + 16L * head, table);
            memory.writeInt(desc + 16L * head + 8, 16 * segments.size());
            memory.writeShort(desc + 16L * head + 12, (short) 4);
            memory.writeShort(desc + 16L * head + 14, (short) 0);
            nextDescriptor = (head + 1) % size;
            return head;
        }

        private void writeDescriptor(long at, Segment s, int next, int nextIndex) {
            memory.writeLong(at, s.address());
            memory.writeInt(at + 8, (int) s.length());
            memory.writeShort(at + 12, (short) (next | (s.writable() ? 2 : 0)));
            memory.writeShort(at + 14, (short) nextIndex);
        }

        /** Puts {@code head} in the available ring and publishes it. */
        public void publish(int head) {
            memory.writeShort(avail + 4 + 2L * (availIdx % size), (short) head);
            availIdx = (availIdx + 1) & 0xFFFF;
            java.lang.invoke.VarHandle.releaseFence();
            memory.writeShort(avail + 2, (short) availIdx);
        }

        /** Publishes a raw available index (hostile tests). */
        public void setAvailIndex(int idx) {
            availIdx = idx & 0xFFFF;
            memory.writeShort(avail + 2, (short) availIdx);
        }

        public void kick() { mmio.write(notifyAddress, 2, index); }

        public int usedIndex() { return memory.readShort(used + 2) & 0xFFFF; }

        /** Waits until {@code count} more chains are used, the device asks for a reset, or the timeout. */
        public boolean awaitUsed(int count, long timeoutMillis) {
            int target = (usedSeen + count) & 0xFFFF;
            long deadline = System.nanoTime() + timeoutMillis * 1_000_000;
            while (usedIndex() != target) {
                if ((status() & 0x40) != 0 || System.nanoTime() > deadline) return false;
                LockSupport.parkNanos(20_000);
            }
            usedSeen = target;
            return true;
        }

        /** Submits one chain, kicks, waits; returns the used length (or throws on timeout/reset). */
        public int submit(List<Segment> segments) {
            int slotIndex = usedSeen % size;
            publish(addChain(segments));
            kick();
            if (!awaitUsed(1, 10_000)) throw new IllegalStateException("request not completed, status " + status());
            return memory.readInt(used + 4 + 8L * slotIndex + 4);
        }

        public int usedHead(int n) { return memory.readInt(used + 4 + 8L * (n % size)); }

        public int usedLength(int n) { return memory.readInt(used + 4 + 8L * (n % size) + 4); }

        public int usedSeen() { return usedSeen; }

        public int availIndex() { return availIdx; }

        /** Waits until the device has used everything published, or asks for a reset; false on reset. */
        public boolean drain(long timeoutMillis) {
            long deadline = System.nanoTime() + timeoutMillis * 1_000_000;
            while (true) {
                long seen = sleepOn == null ? 0 : sleepOn.signals(); // before the look: a later interrupt wakes the sleep
                if (usedIndex() == availIdx) break;
                if ((status() & 0x40) != 0) return false;
                if (System.nanoTime() > deadline) throw new IllegalStateException("device stalled: used " + usedIndex() + " of " + availIdx);
                if (sleepOn == null) LockSupport.parkNanos(20_000);
                else sleepOn.awaitAfter(seen, 1_000_000); // bounded: a suppressed interrupt costs a millisecond, not a hang
            }
            usedSeen = availIdx;
            return true;
        }

        /** Forgets the ring state after a device reset (the driver sets the queue up again). */
        public void resyncAfterReset() { usedSeen = 0; availIdx = 0; nextDescriptor = 0; }
    }
}
