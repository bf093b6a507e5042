package dev.flint.devices.pci;

import dev.flint.machine.bus.BusDevice;

/**
 * A base address register's resource: its size (a power of two), kind, and the registers it decodes.
 * A device that needs several regions in one BAR (its own registers, an MSI-X table, the PBA) composes
 * them into one {@link BusDevice}, for example with a private {@link dev.flint.machine.bus.Bus}.
 */
public record PciBar(long size, Kind kind, boolean prefetchable, BusDevice region) {
    public enum Kind { IO, MEMORY32, MEMORY64 }

    public PciBar {
        long min = kind == Kind.IO ? 4 : 16;
        if (size < min || Long.bitCount(size) != 1) throw new IllegalArgumentException("BAR size must be a power of two >= " + min);
        if (kind == Kind.IO && size > 256) throw new IllegalArgumentException("I/O BARs are at most 256 bytes");
        if (kind == Kind.MEMORY32 && size > 1L << 31) throw new IllegalArgumentException("32-bit BAR too large");
        if (kind == Kind.IO && prefetchable) throw new IllegalArgumentException("I/O BARs are not prefetchable");
    }

    /** The low flag bits a BAR register reports (space, type, prefetchable). */
    int flags() {
        return switch (kind) {
            case IO -> 0x1;
            case MEMORY32 -> prefetchable ? 0x8 : 0x0;
            case MEMORY64 -> 0x4 | (prefetchable ? 0x8 : 0x0);
        };
    }
}
