package dev.flint.machine.bus;

/**
 * A device register window on the port-I/O or MMIO bus. Offsets are relative to the start of the range
 * the device was registered at; sizes are 1, 2, 4 or 8 bytes. Values are little-endian, zero-extended.
 *
 * <p>Called from vCPU threads (either engine); implementations must be thread-safe and must not block
 * on guest-controlled conditions: long work goes to the device's own I/O thread.
 */
public interface BusDevice {
    long read(long offset, int size);

    void write(long offset, int size, long value);
}
