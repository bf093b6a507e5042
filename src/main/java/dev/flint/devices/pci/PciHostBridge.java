package dev.flint.devices.pci;

import dev.flint.machine.InterruptController;
import dev.flint.machine.bus.Bus;
import dev.flint.machine.bus.BusDevice;

/**
 * PCI bus 0 behind configuration mechanism #1: the address register at 0xCF8 selects bus/device/
 * function/register, the data window at 0xCFC-0xCFF reads or writes it. Slot 0 is the host bridge itself;
 * devices take slots 1-31 as function 0. Empty slots, other functions and other buses read all ones,
 * which is how Linux learns nothing is there. There is no ECAM (and so no MCFG table): 256 bytes of
 * configuration space per function, which is all virtio-pci needs.
 */
public final class PciHostBridge {
    public static final int SLOTS = 32;
    static final int ENABLE = 0x8000_0000;

    /** Which GSI a slot's INTx pin (1 = INTA) arrives on: the device manager's routing, as the firmware tables say. */
    @FunctionalInterface
    public interface IntxRouting {
        int gsi(int slot, int pin);
    }

    private final Bus portIo;
    private final Bus mmio;
    private final InterruptController irq;
    private final IntxRouting routing;
    private final PciDevice[] slots = new PciDevice[SLOTS];
    private final BusDevice addressPort = new AddressPort();
    private final BusDevice dataPort = new DataPort();
    private int address;

    /**
     * A bus whose devices can raise INTx (on the GSI {@code routing} gives) and MSI through {@code irq}. Their
     * BARs go on {@code portIo} and {@code mmio} where the guest programs them. The bridge's own configuration
     * ports ({@link #configAddressPort}, {@link #configDataPort}) are registered by whoever builds the machine.
     */
    public PciHostBridge(Bus portIo, Bus mmio, InterruptController irq, IntxRouting routing) {
        this.portIo = portIo;
        this.mmio = mmio;
        this.irq = irq;
        this.routing = routing;
        slots[0] = new HostBridgeFunction();
        slots[0].configSpace().attach(slots[0].name(), 0, portIo, mmio, irq, -1);
    }

    /** A bus for devices that signal only by MSI-X (which they send themselves); INTx is unavailable. */
    public PciHostBridge(Bus portIo, Bus mmio) {
        this(portIo, mmio, null, (slot, pin) -> -1);
    }

    /** Configuration mechanism #1's address register (4 bytes). */
    public BusDevice configAddressPort() { return addressPort; }

    /** Configuration mechanism #1's data window (4 bytes). */
    public BusDevice configDataPort() { return dataPort; }

    /** Puts {@code device} in the first free slot and returns that slot number. */
    public synchronized int addDevice(PciDevice device) {
        for (int slot = 1; slot < SLOTS; slot++) {
            if (slots[slot] == null) {
                if (irq == null && device.configSpace().read(PciConfigSpace.INTERRUPT_PIN, 1) != 0) {
                    throw new IllegalStateException(device.name() + " uses INTx but this bus has no interrupt controller");
                }
                int pin = device.configSpace().read(PciConfigSpace.INTERRUPT_PIN, 1);
                device.configSpace().attach(device.name(), slot, portIo, mmio, irq, pin == 0 ? -1 : routing.gsi(slot, pin));
                slots[slot] = device;
                return slot;
            }
        }
        throw new IllegalStateException("PCI bus 0 is full (31 devices)");
    }

    /**
     * Puts {@code device} in slot {@code slot} (1..31) while the machine runs (hot-plug). False if the slot
     * is taken.
     */
    public synchronized boolean addDeviceAt(int slot, PciDevice device) {
        if (slot < 1 || slot >= SLOTS) throw new IllegalArgumentException("no PCI slot " + slot);
        if (slots[slot] != null) return false;
        if (device.configSpace().read(PciConfigSpace.INTERRUPT_PIN, 1) != 0) {
            throw new IllegalArgumentException(device.name() + " uses INTx: only MSI-X functions are hot-plugged");
        }
        device.configSpace().attach(device.name(), slot, portIo, mmio, irq, -1);
        slots[slot] = device;
        return true;
    }

    /**
     * Takes the function out of slot {@code slot} (hot removal): from now on its configuration space reads
     * all ones, as an empty slot's, and its BARs decode nothing. Returns it, or null if the slot was empty.
     */
    public synchronized PciDevice removeDevice(int slot) {
        if (slot < 1 || slot >= SLOTS) return null;
        PciDevice d = slots[slot];
        if (d == null) return null;
        slots[slot] = null;
        d.configSpace().detach();
        return d;
    }

    /** Slots 1..31 that hold no function, as a bitmap (bit N = slot N). */
    public synchronized int freeSlots() {
        int mask = 0;
        for (int slot = 1; slot < SLOTS; slot++) if (slots[slot] == null) mask |= 1 << slot;
        return mask;
    }

    /** Snapshot: the address register and the host bridge's own configuration space (devices save theirs). */
    public synchronized void save(dev.flint.machine.state.StateWriter.Section out) {
        out.putInt(address);
        slots[0].configSpace().save(out);
    }

    public synchronized void restore(dev.flint.machine.state.StateReader.Section in) {
        address = in.getInt();
        slots[0].configSpace().restore(in);
        in.end();
    }

    private synchronized PciDevice selected() {
        if ((address & ENABLE) == 0) return null;
        int bus = (address >>> 16) & 0xFF, slot = (address >>> 11) & 0x1F, function = (address >>> 8) & 0x7;
        return bus == 0 && function == 0 ? slots[slot] : null;
    }

    private final class AddressPort implements BusDevice {
        @Override
        public long read(long offset, int size) {
            synchronized (PciHostBridge.this) {
                long v = (address & 0xFFFF_FFFFL) >>> (8 * offset);
                return size >= 4 ? v : v & ((1L << (8 * size)) - 1);
            }
        }

        @Override
        public void write(long offset, int size, long value) {
            synchronized (PciHostBridge.this) {
                int shift = (int) (8 * offset);
                long mask = (size >= 4 ? 0xFFFF_FFFFL : (1L << (8 * size)) - 1) << shift;
                // Bits 1:0 are reserved and read as 0; bits 30:24 are reserved too.
                address = (int) (((address & ~mask) | ((value << shift) & mask)) & 0x80FF_FFFCL);
            }
        }
    }

    private final class DataPort implements BusDevice {
        @Override
        public long read(long offset, int size) {
            PciDevice d = selected();
            int reg = register(offset);
            long ones = size >= 4 ? 0xFFFF_FFFFL : (1L << (8 * size)) - 1;
            if (d == null || reg + size > PciConfigSpace.SIZE) return ones;
            return d.readConfig(reg, Math.min(size, 4)) & ones;
        }

        @Override
        public void write(long offset, int size, long value) {
            PciDevice d = selected();
            int reg = register(offset);
            if (d != null && reg + size <= PciConfigSpace.SIZE) d.writeConfig(reg, Math.min(size, 4), (int) value);
        }

        private int register(long offset) {
            synchronized (PciHostBridge.this) {
                return (address & 0xFC) + (int) offset;
            }
        }
    }

    /** 00:00.0: the host bridge as software sees it (QEMU's generic PCIe host bridge ID, no quirks in Linux). */
    private static final class HostBridgeFunction implements PciDevice {
        private final PciConfigSpace config = new PciConfigSpace(0x1B36, 0x0008, 0x060000, 0, 0x1AF4, 0x1100);

        @Override public String name() { return "host bridge"; }
        @Override public PciConfigSpace configSpace() { return config; }
    }
}
