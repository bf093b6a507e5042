package dev.flint.devices.legacy;

import dev.flint.machine.StopReason;
import dev.flint.machine.SystemControl;
import dev.flint.machine.bus.BusDevice;

/**
 * QEMU's isa-debug-exit device: a guest write of V (1, 2 or 4 bytes) to its port ends the VM, and Flint
 * with exit status {@code (V << 1) | 1}. CPU test suites and small test kernels report pass/fail this way.
 * Only installed on request ({@code --debug-exit PORT}); reads return 0 as QEMU's do.
 */
public final class DebugExit implements BusDevice {
    /** The port width registered: a 4-byte write at the base port is the widest access. */
    public static final int LENGTH = 4;

    private final SystemControl control;

    public DebugExit(SystemControl control) { this.control = control; }

    @Override
    public long read(long offset, int size) { return 0; }

    @Override
    public void write(long offset, int size, long value) {
        // Only a write starting at the base port counts, as in QEMU (the device is one register wide).
        if (offset != 0) return;
        long mask = size >= 4 ? 0xFFFF_FFFFL : (1L << (size * 8)) - 1;
        control.requestStop(new StopReason.DebugExit(value & mask));
    }
}
