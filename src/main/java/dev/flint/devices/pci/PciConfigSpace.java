package dev.flint.devices.pci;

import dev.flint.machine.InterruptController;
import dev.flint.machine.bus.Bus;

import java.util.function.IntConsumer;
import java.util.logging.Logger;

/**
 * A type 0 (endpoint) configuration header with the behaviour every function needs: read-only identity,
 * the writable command register, BAR sizing and programming (32- and 64-bit, memory and I/O) with the
 * BARs mapped onto the buses while decoding is enabled, a capability list, and INTx through the
 * interrupt pin/line registers. Thread-safe; any value the guest writes is masked, never trusted.
 */
public final class PciConfigSpace {
    private static final Logger LOG = Logger.getLogger(PciConfigSpace.class.getName());

    public static final int VENDOR_ID = 0x00, DEVICE_ID = 0x02, COMMAND = 0x04, STATUS = 0x06, REVISION = 0x08,
            CLASS_PROG = 0x09, HEADER_TYPE = 0x0E, BAR0 = 0x10, SUBSYSTEM_VENDOR_ID = 0x2C, SUBSYSTEM_ID = 0x2E,
            CAPABILITIES_POINTER = 0x34, INTERRUPT_LINE = 0x3C, INTERRUPT_PIN = 0x3D;
    public static final int COMMAND_IO = 0x1, COMMAND_MEMORY = 0x2, COMMAND_BUS_MASTER = 0x4,
            COMMAND_INTX_DISABLE = 0x400;
    public static final int STATUS_INTERRUPT = 0x08, STATUS_CAPABILITIES = 0x10;
    public static final int SIZE = 256;
    private static final int FIRST_CAPABILITY = 0x40;

    private final byte[] regs = new byte[SIZE];
    private final byte[] writable = new byte[SIZE];
    private final PciBar[] bars = new PciBar[6];
    private final long[] barAddress = new long[6];
    private final long[] mappedAt = {-1, -1, -1, -1, -1, -1};
    private final java.util.List<Capability> capabilities = new java.util.ArrayList<>();
    private final java.util.List<BarListener> barListeners = new java.util.ArrayList<>();
    private int nextCapability = FIRST_CAPABILITY;
    private int lastCapability = -1;

    private String name = "pci";
    private int slot = -1;
    private Bus portIo, mmio;
    private InterruptController irq;
    /** The GSI the INTx pin drives (the device manager's routing), or -1 when the function has no pin. */
    private int intxGsi = -1;
    private boolean intxAsserted, intxLine;

    private record Capability(int start, int end, IntConsumer onWrite) {}

    /**
     * @param classCode 24 bits: base class, subclass, programming interface (e.g. 0x060000 host bridge)
     */
    public PciConfigSpace(int vendorId, int deviceId, int classCode, int revision, int subsystemVendorId, int subsystemId) {
        put16(VENDOR_ID, vendorId);
        put16(DEVICE_ID, deviceId);
        regs[REVISION] = (byte) revision;
        regs[CLASS_PROG] = (byte) classCode;
        regs[CLASS_PROG + 1] = (byte) (classCode >> 8);
        regs[CLASS_PROG + 2] = (byte) (classCode >> 16);
        put16(SUBSYSTEM_VENDOR_ID, subsystemVendorId);
        put16(SUBSYSTEM_ID, subsystemId);
        put16(COMMAND, 0);
        writable[COMMAND] = (byte) (COMMAND_IO | COMMAND_MEMORY | COMMAND_BUS_MASTER);
        writable[COMMAND + 1] = (byte) (COMMAND_INTX_DISABLE >> 8);
        writable[0x0C] = (byte) 0xFF; // cache line size
        writable[0x0D] = (byte) 0xFF; // latency timer
        writable[INTERRUPT_LINE] = (byte) 0xFF;
    }

    /** Declares INTx: 1 = INTA# .. 4 = INTD#. */
    public synchronized void setInterruptPin(int pin) {
        if (pin < 1 || pin > 4) throw new IllegalArgumentException("interrupt pin must be 1..4");
        regs[INTERRUPT_PIN] = (byte) pin;
    }

    /** Declares BAR {@code index}; a 64-bit BAR also occupies index + 1. Call before the device is attached. */
    public synchronized void setBar(int index, PciBar bar) {
        int span = bar.kind() == PciBar.Kind.MEMORY64 ? 2 : 1;
        if (index < 0 || index + span > 6) throw new IllegalArgumentException("no BAR " + index + " for " + bar.kind());
        for (int i = index; i < index + span; i++) {
            if (bars[i] != null || (i > 0 && bars[i - 1] != null && bars[i - 1].kind() == PciBar.Kind.MEMORY64)) {
                throw new IllegalArgumentException("BAR " + i + " already in use");
            }
        }
        bars[index] = bar;
    }

    /**
     * Appends a capability: {@code body} is everything after the ID and next-pointer bytes. Bytes set in
     * {@code writeMask} (same indexing as {@code body}) are guest-writable; {@code onWrite} then hears the
     * offset (relative to the capability start) of each write. Returns the capability's offset.
     */
    public synchronized int addCapability(int id, byte[] body, byte[] writeMask, IntConsumer onWrite) {
        int start = nextCapability;
        int len = (2 + body.length + 3) & ~3;
        if (start + len > SIZE) throw new IllegalStateException("configuration space full");
        regs[start] = (byte) id;
        System.arraycopy(body, 0, regs, start + 2, body.length);
        for (int i = 0; i < writeMask.length; i++) writable[start + 2 + i] = writeMask[i];
        if (lastCapability < 0) regs[CAPABILITIES_POINTER] = (byte) start;
        else regs[lastCapability + 1] = (byte) start;
        regs[STATUS] |= STATUS_CAPABILITIES;
        lastCapability = start;
        nextCapability = start + len;
        capabilities.add(new Capability(start, start + len, onWrite));
        return start;
    }

    /** Connects the function to the machine; called by {@link PciHostBridge#addDevice}. */
    synchronized void attach(String name, int slot, Bus portIo, Bus mmio, InterruptController irq, int intxGsi) {
        if (this.slot >= 0) throw new IllegalStateException(name + " is already on the bus");
        this.name = name;
        this.slot = slot;
        this.portIo = portIo;
        this.mmio = mmio;
        this.irq = irq;
        this.intxGsi = intxGsi;
    }

    /**
     * Disconnects the function from the machine (hot removal; {@link PciHostBridge#removeDevice}): its BARs
     * stop decoding on the buses and the BAR listeners hear so, and its INTx line is released.
     */
    synchronized void detach() {
        for (int i = 0; i < 6; i++) {
            if (mappedAt[i] < 0) continue;
            (bars[i].kind() == PciBar.Kind.IO ? portIo : mmio).unregister(mappedAt[i]);
            mappedAt[i] = -1;
            for (BarListener l : barListeners) l.barMapped(i, -1);
        }
        if (intxLine && irq != null && intxGsi >= 0) irq.setLevel(intxGsi, false);
        intxLine = false;
        slot = -1;
        portIo = null;
        mmio = null;
        irq = null;
    }

    public synchronized int read(int offset, int size) {
        int v = 0;
        for (int i = size - 1; i >= 0; i--) v = (v << 8) | readByte(offset + i);
        return v;
    }

    private int readByte(int off) {
        if (off < 0 || off >= SIZE) return 0xFF;
        if (off >= BAR0 && off < BAR0 + 24) {
            int index = (off - BAR0) / 4;
            return (int) (barRegister(index) >>> (8 * (off & 3))) & 0xFF;
        }
        return regs[off] & 0xFF;
    }

    public synchronized void write(int offset, int size, int value) {
        if (offset < 0 || size < 1 || offset + size > SIZE) return;
        if (offset >= BAR0 && offset < BAR0 + 24) {
            writeBar(offset, size, value);
            return;
        }
        for (int i = 0; i < size; i++) {
            int off = offset + i;
            int mask = writable[off] & 0xFF;
            regs[off] = (byte) ((regs[off] & ~mask) | ((value >>> (8 * i)) & mask));
        }
        if (offset <= COMMAND + 1 && offset + size > COMMAND) {
            remapBars();
            updateIntx();
        }
        for (Capability c : capabilities) {
            if (offset < c.end && offset + size > c.start && c.onWrite != null) c.onWrite.accept(offset - c.start);
        }
    }

    /** The guest's value of a capability byte (for capability helpers reading back what the guest wrote). */
    public synchronized int capabilityByte(int offset) {
        return regs[offset] & 0xFF;
    }

    public synchronized int command() { return get16(COMMAND); }

    public synchronized boolean busMasterEnabled() { return (get16(COMMAND) & COMMAND_BUS_MASTER) != 0; }

    // ---- BARs ----

    private long barRegister(int index) {
        PciBar bar = bars[index];
        if (bar == null) {
            PciBar lower = index > 0 ? bars[index - 1] : null;
            if (lower != null && lower.kind() == PciBar.Kind.MEMORY64) return barAddress[index - 1] >>> 32;
            return 0;
        }
        return (barAddress[index] & 0xFFFF_FFFFL) | bar.flags();
    }

    private void writeBar(int offset, int size, int value) {
        int index = (offset - BAR0) / 4;
        // Merge partial writes into the current register value first.
        long old = barRegister(index);
        int shift = 8 * (offset & 3);
        long mask = (size >= 4 ? 0xFFFF_FFFFL : (1L << (8 * size)) - 1) << shift;
        long reg = (old & ~mask) | (((long) value << shift) & mask);
        PciBar bar = bars[index];
        if (bar != null) {
            long addrMask = ~(bar.size() - 1) & 0xFFFF_FFFFL;
            barAddress[index] = (barAddress[index] & ~0xFFFF_FFFFL) | (reg & addrMask);
        } else if (index > 0 && bars[index - 1] != null && bars[index - 1].kind() == PciBar.Kind.MEMORY64) {
            long highMask = ~(bars[index - 1].size() - 1) >>> 32;
            barAddress[index - 1] = (barAddress[index - 1] & 0xFFFF_FFFFL) | ((reg & highMask) << 32);
        } else {
            return; // unimplemented BAR: reads as 0, ignores writes
        }
        remapBars();
    }

    /** Maps each BAR where the guest put it while its decode is enabled; unmaps it otherwise. */
    private void remapBars() {
        int cmd = get16(COMMAND);
        for (int i = 0; i < 6; i++) {
            long before = mappedAt[i];
            remapBar(i, cmd);
            if (mappedAt[i] != before) for (BarListener l : barListeners) l.barMapped(i, mappedAt[i]);
        }
    }

    private void remapBar(int i, int cmd) {
        PciBar bar = bars[i];
        if (bar == null) return;
        boolean io = bar.kind() == PciBar.Kind.IO;
        Bus bus = io ? portIo : mmio;
        if (bus == null) return;
        long addr = barAddress[i];
        long limit = io ? 0x1_0000L : 1L << 52;
        boolean decode = (cmd & (io ? COMMAND_IO : COMMAND_MEMORY)) != 0;
        long target = decode && addr != 0 && addr + bar.size() <= limit ? addr : -1;
        if (target == mappedAt[i]) return;
        if (mappedAt[i] >= 0) bus.unregister(mappedAt[i]);
        mappedAt[i] = -1;
        if (target < 0) return;
        try {
            bus.register(target, bar.size(), bar.region(), name + " BAR" + i);
            mappedAt[i] = target;
        } catch (IllegalStateException e) {
            // The guest placed the BAR over something else: leave it unmapped, as a conflicting decode would be.
            LOG.warning(String.format("%s: BAR%d at 0x%x not mapped: %s", name, i, target, e.getMessage()));
        }
    }

    /**
     * Hears where a BAR is decoded, for a device that registered addresses inside it somewhere other than
     * the bus (an engine's ioeventfd): the guest may move a BAR or switch decoding off at any time.
     */
    @FunctionalInterface
    public interface BarListener {
        /** BAR {@code index} now decodes at {@code address}, or nowhere if -1. Runs under this space's lock. */
        void barMapped(int index, long address);
    }

    /** Adds {@code listener} and tells it at once where each BAR decodes now. */
    public synchronized void addBarListener(BarListener listener) {
        barListeners.add(listener);
        for (int i = 0; i < 6; i++) if (bars[i] != null) listener.barMapped(i, mappedAt[i]);
    }

    // ---- snapshots ----

    /** The guest-visible registers and BAR programming; the layout (BARs, capabilities) is the builder's. */
    public synchronized void save(dev.flint.machine.state.StateWriter.Section out) {
        out.putBytes(regs).putLongs(barAddress).putBoolean(intxAsserted);
    }

    /**
     * Takes the registers back and maps the BARs where the guest had them. The INTx line is taken as the
     * interrupt controller's restored state already has it (no edge is sent).
     */
    public synchronized void restore(dev.flint.machine.state.StateReader.Section in) {
        byte[] saved = in.getBytes(SIZE);
        for (int off : new int[] {VENDOR_ID, VENDOR_ID + 1, DEVICE_ID, DEVICE_ID + 1, CLASS_PROG + 1, CLASS_PROG + 2}) {
            if (saved[off] != regs[off]) throw new dev.flint.machine.state.SnapshotException(name + ": the snapshot holds another PCI function in slot " + slot);
        }
        System.arraycopy(saved, 0, regs, 0, SIZE);
        in.readLongs(barAddress);
        intxAsserted = in.getBoolean();
        intxLine = intxAsserted && (get16(COMMAND) & COMMAND_INTX_DISABLE) == 0;
        remapBars();
    }

    // ---- INTx ----

    /** Asserts or deasserts the function's INTx pin (level-triggered, routed per the _PRT/MP table swizzle). */
    public synchronized void setIntx(boolean asserted) {
        if (regs[INTERRUPT_PIN] == 0) throw new IllegalStateException(name + " has no interrupt pin");
        intxAsserted = asserted;
        updateIntx();
    }

    private void updateIntx() {
        regs[STATUS] = (byte) ((regs[STATUS] & ~STATUS_INTERRUPT) | (intxAsserted ? STATUS_INTERRUPT : 0));
        boolean line = intxAsserted && (get16(COMMAND) & COMMAND_INTX_DISABLE) == 0;
        if (line != intxLine && irq != null && intxGsi >= 0) {
            intxLine = line;
            irq.setLevel(intxGsi, line);
        }
    }

    private void put16(int off, int v) {
        regs[off] = (byte) v;
        regs[off + 1] = (byte) (v >> 8);
    }

    private int get16(int off) {
        return (regs[off] & 0xFF) | (regs[off + 1] & 0xFF) << 8;
    }
}
