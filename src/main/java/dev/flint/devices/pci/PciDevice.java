package dev.flint.devices.pci;

/**
 * A function on PCI bus 0. Most devices only provide their {@link PciConfigSpace}; the defaults route
 * configuration accesses to it. A device with configuration registers that have side effects beyond
 * what the helper models overrides {@link #readConfig}/{@link #writeConfig} and delegates the rest.
 */
public interface PciDevice {
    /** Short name for logs and bus registrations, e.g. "virtio-blk". */
    String name();

    PciConfigSpace configSpace();

    /** A configuration read of 1, 2 or 4 bytes at {@code offset} (0..255), already bounds-checked. */
    default int readConfig(int offset, int size) {
        return configSpace().read(offset, size);
    }

    default void writeConfig(int offset, int size, int value) {
        configSpace().write(offset, size, value);
    }
}
