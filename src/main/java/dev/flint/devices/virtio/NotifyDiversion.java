package dev.flint.devices.virtio;

import dev.flint.devices.pci.PciConfigSpace;
import dev.flint.machine.NotifyFastPath;
import dev.flint.sys.EventFd;

import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.function.IntFunction;
import java.util.logging.Logger;

/**
 * Keeps each queue's notify register diverted to that queue's kick eventfd through an engine's
 * {@link NotifyFastPath} (KVM ioeventfd), wherever the guest currently decodes the BAR holding them: a BAR
 * move or memory decode switched off drops the old registrations before the new ones are made. If the
 * engine refuses, notifications simply keep coming through the MMIO bus.
 *
 * <p>Width 2 and no datamatch: the driver writes the 16-bit queue index (virtio 1.x without
 * NOTIFICATION_DATA), and every queue has its own address, so the value carries nothing a match could
 * use. Writes of another width still reach the bus, which serves them the same way.
 */
final class NotifyDiversion implements PciConfigSpace.BarListener {
    private static final Logger LOG = Logger.getLogger(NotifyDiversion.class.getName());
    static final int NOTIFY_WIDTH = 2;

    private final String device;
    private final NotifyFastPath path;
    private final int bar;
    private final long[] offsets;
    private final IntFunction<EventFd> kick;
    private final List<NotifyFastPath.Registration> active = new ArrayList<>();
    private boolean closed;

    /** Queue {@code q}'s register is at {@code offsets[q]} in BAR {@code bar}; {@code kick} gives its eventfd. */
    NotifyDiversion(String device, NotifyFastPath path, int bar, long[] offsets, IntFunction<EventFd> kick) {
        this.device = device;
        this.path = path;
        this.bar = bar;
        this.offsets = offsets.clone();
        this.kick = kick;
    }

    @Override
    public synchronized void barMapped(int index, long address) {
        if (index != bar || closed) return;
        release();
        if (address < 0) return;
        try {
            for (int q = 0; q < offsets.length; q++) {
                active.add(path.signalOnWrite(address + offsets[q], NOTIFY_WIDTH, OptionalLong.empty(), kick.apply(q)));
            }
            LOG.fine(() -> String.format("%s: queue notifications at 0x%x go straight to the I/O thread", device,
                    address + offsets[0]));
        } catch (RuntimeException e) {
            LOG.warning(device + ": queue notifications stay on the MMIO path: " + e.getMessage());
            release();
        }
    }

    /** How many notify registers are diverted right now (for tests and logs). */
    synchronized int diverted() { return active.size(); }

    private void release() {
        for (NotifyFastPath.Registration r : active) {
            try {
                r.close();
            } catch (RuntimeException e) { // the engine logged it; the other registrations must still go
                LOG.fine(() -> device + ": " + e.getMessage());
            }
        }
        active.clear();
    }

    /** Drops every registration; later BAR moves are ignored. */
    synchronized void close() {
        closed = true;
        release();
    }
}
