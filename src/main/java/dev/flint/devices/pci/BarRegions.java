package dev.flint.devices.pci;

import dev.flint.machine.bus.Bus;
import dev.flint.machine.bus.BusDevice;

/**
 * One BAR's worth of registers built from several regions (a device's own registers, an MSI-X table,
 * the PBA), each at its offset. Gaps read as all ones and ignore writes, as unclaimed bus space does.
 */
public final class BarRegions implements BusDevice {
    private final Bus regions;

    public BarRegions(String name) {
        this.regions = new Bus(name);
    }

    /** Places {@code device} at [offset, offset + length) of the BAR; overlapping regions are refused. */
    public BarRegions add(long offset, long length, BusDevice device, String name) {
        regions.register(offset, length, device, name);
        return this;
    }

    @Override
    public long read(long offset, int size) {
        return regions.read(offset, size);
    }

    @Override
    public void write(long offset, int size, long value) {
        regions.write(offset, size, value);
    }
}
