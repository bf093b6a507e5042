package dev.flint.devices.nvme;

import dev.flint.devices.pci.PciConfigSpace;
import dev.flint.machine.NotifyFastPath;
import dev.flint.sys.EventFd;

import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.logging.Logger;

/**
 * Diverts the I/O queues' SQ tail doorbells to one eventfd through an engine's {@link NotifyFastPath}
 * (kvm: ioeventfd), so a ring wakes the I/O thread without a vCPU exit to Flint. Only while the driver
 * uses shadow doorbells: a diverted write's value is lost, and only then does the controller not need it.
 * Follows BAR0 wherever the guest maps it; if the engine refuses, rings keep coming through the bus.
 */
final class DoorbellDiversion implements PciConfigSpace.BarListener {
    private static final Logger LOG = Logger.getLogger(DoorbellDiversion.class.getName());
    private static final int WIDTH = 4;

    private final NotifyFastPath path;
    private final EventFd kick;
    private final int ioQueues;
    private final List<NotifyFastPath.Registration> active = new ArrayList<>();
    private long barAddress = -1;
    private boolean wanted, closed;

    DoorbellDiversion(NotifyFastPath path, EventFd kick, int ioQueues) {
        this.path = path;
        this.kick = kick;
        this.ioQueues = ioQueues;
    }

    @Override
    public synchronized void barMapped(int index, long address) {
        if (index != 0) return;
        barAddress = address;
        update();
    }

    /** The driver turned shadow doorbells on (true) or the controller was reset (false). */
    synchronized void setWanted(boolean on) {
        wanted = on;
        update();
    }

    /** Whether rings are diverted right now. */
    synchronized boolean diverted() { return !active.isEmpty(); }

    private void update() {
        release();
        if (!wanted || closed || barAddress < 0) return;
        try {
            for (int q = 1; q <= ioQueues; q++) {
                active.add(path.signalOnWrite(barAddress + NvmePciFunction.DOORBELLS + 8L * q, WIDTH, OptionalLong.empty(), kick));
            }
        } catch (RuntimeException e) {
            LOG.warning("nvme: SQ doorbells stay on the MMIO path: " + e.getMessage());
            release();
        }
    }

    private void release() {
        for (NotifyFastPath.Registration r : active) {
            try {
                r.close();
            } catch (RuntimeException e) {
                LOG.fine(() -> "nvme: " + e.getMessage());
            }
        }
        active.clear();
    }

    synchronized void close() {
        closed = true;
        release();
    }
}
