package dev.flint.engine.emu.mmu;

import dev.flint.engine.emu.cpu.GuestFault;
import dev.flint.machine.bus.Bus;

import java.util.logging.Logger;

/**
 * Port-I/O and MMIO accesses that reach a device, treated as the kvm engine treats them: a device that
 * throws on guest input is that device's problem, not the VM's. The access is logged, a read returns
 * all ones (as an undriven bus floats high) and the vCPU goes on. Guest faults pass through.
 */
public final class DeviceAccess {
    private static final Logger LOG = Logger.getLogger(DeviceAccess.class.getName());

    private DeviceAccess() {}

    public static long read(Bus bus, long addr, int size) {
        try {
            return bus.read(addr, size);
        } catch (GuestFault f) {
            throw f;
        } catch (RuntimeException e) {
            LOG.warning(String.format("%s 0x%x read: %s", bus.name(), addr, e));
            return size >= 8 ? -1L : (1L << (8 * size)) - 1;
        }
    }

    public static void write(Bus bus, long addr, int size, long value) {
        try {
            bus.write(addr, size, value);
        } catch (GuestFault f) {
            throw f;
        } catch (RuntimeException e) {
            LOG.warning(String.format("%s 0x%x write: %s", bus.name(), addr, e));
        }
    }
}
