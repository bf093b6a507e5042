package dev.flint.devices.legacy;

import dev.flint.machine.bus.BusDevice;
import java.time.Duration;
import java.util.OptionalLong;
import java.util.logging.Logger;

/**
 * Firecracker's boot-timer pseudo device: the guest's init writes the byte 123 to the first byte of the
 * 32-bit MMIO gap once it is up, and the VMM logs how long that took since InstanceStart. Firecracker
 * places it at {@code BOOT_DEVICE_MEM_START} = {@code MMIO32_MEM_START} = 4 GiB - 1 GiB = 0xC000_0000 on
 * x86_64 (an MMIO page, not an I/O port: the old port 0x03F0 variant is gone), so guest images and
 * scripts written for Firecracker's boot timing work unchanged. From a busybox guest:
 * {@code devmem 0xc0000000 8 123}.
 *
 * <p>Reads return 0. Any other value or offset is ignored: the guest is not trusted to say anything else.
 */
public final class BootTimer implements BusDevice {
    private static final Logger LOG = Logger.getLogger(BootTimer.class.getName());

    /** One page, like every Firecracker MMIO device slot (where it sits is the device manager's business). */
    public static final long MMIO_LENGTH = 0x1000;
    /** The byte that means "guest boot complete" (Firecracker's MAGIC_VALUE_SIGNAL_GUEST_BOOT_COMPLETE). */
    public static final int MAGIC_BOOT_COMPLETE = 123;

    private final long startNanos;
    private final Duration startCpu;
    private volatile long bootNanos = -1;

    /**
     * @param startNanos {@link System#nanoTime()} when the VM was asked to start (InstanceStart, or boot
     *                   from a config file): the origin of the reported time
     */
    public BootTimer(long startNanos) {
        this.startNanos = startNanos;
        this.startCpu = processCpu();
    }

    @Override
    public long read(long offset, int size) {
        return 0;
    }

    @Override
    public void write(long offset, int size, long value) {
        if (offset != 0 || (value & 0xFF) != MAGIC_BOOT_COMPLETE) return;
        long elapsed = System.nanoTime() - startNanos;
        if (bootNanos < 0) bootNanos = elapsed;
        Duration cpu = processCpu().minus(startCpu);
        LOG.info(() -> String.format("Guest-boot-time = %d us %d ms, %d CPU us %d CPU ms",
                elapsed / 1_000, elapsed / 1_000_000, cpu.toNanos() / 1_000, cpu.toMillis()));
    }

    /** Nanoseconds from start to the guest's first boot-complete write; empty until it comes. */
    public OptionalLong bootTimeNanos() {
        long t = bootNanos;
        return t < 0 ? OptionalLong.empty() : OptionalLong.of(t);
    }

    private static Duration processCpu() {
        return ProcessHandle.current().info().totalCpuDuration().orElse(Duration.ZERO);
    }
}
