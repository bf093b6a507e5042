package dev.flint.machine;

import dev.flint.sys.EventFd;

import java.util.OptionalLong;

/**
 * An engine's shortcut for doorbell registers (virtio queue notifications): a guest write to a registered
 * MMIO address signals an eventfd inside the engine instead of leaving the vCPU for Flint's MMIO bus, so
 * the device's I/O thread, waiting on that eventfd, wakes without any vCPU thread doing device work.
 * KVM provides it with KVM_IOEVENTFD; an engine without it simply does not offer one (see
 * {@link IoFastPaths}) and the register's bus device gets the write as usual.
 *
 * <p>Registration only diverts matching writes: a write of another width, or another value when a
 * datamatch is given, still reaches the bus, so a device must keep handling its register on the bus too.
 */
public interface NotifyFastPath {
    /**
     * From now on a guest write of {@code width} bytes (1, 2, 4 or 8) to MMIO {@code address} — of value
     * {@code datamatch} only, if present — adds one to {@code eventfd} and does not reach the MMIO bus.
     * Closing the returned registration restores the plain path; the eventfd stays the caller's.
     *
     * @throws RuntimeException if the engine refuses (the caller then keeps the plain path)
     */
    Registration signalOnWrite(long address, int width, OptionalLong datamatch, EventFd eventfd);

    /** One diverted register; {@link #close()} is idempotent. */
    interface Registration extends AutoCloseable {
        @Override
        void close();
    }
}
