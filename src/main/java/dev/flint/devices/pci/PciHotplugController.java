package dev.flint.devices.pci;

import dev.flint.machine.InterruptController;
import dev.flint.machine.bus.BusDevice;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.IntConsumer;
import java.util.logging.Logger;

/**
 * The VMM's side of ACPI PCI hot-plug, as the DSDT's Generic Event Device and slot devices use it: three
 * 32-bit registers, one bit per slot of bus 0.
 * <ul>
 *   <li>0: slots that got a function (the OS rescans them: ACPI Device Check). Reading clears them.</li>
 *   <li>4: slots the host wants back (ACPI Eject Request). Reading clears them.</li>
 *   <li>8: written by the slot's {@code _EJ0} once the OS let go of the function: the host may take it out.</li>
 * </ul>
 * The event interrupt is level-triggered and stays asserted while either register holds an unread bit: the
 * OS's {@code _EVT} reads both registers (which clears them and lowers the line) and notifies the slots. So an
 * announcement made before the OS's GED driver bound (the guest still booting, or the driver unbound) is not
 * lost: the line is still up when the driver enables the interrupt, and its {@code _EVT} runs then. The guest
 * is hostile: an access of another size or offset, or an eject of a slot the host did not hot-plug, changes
 * nothing and is logged once per kind.
 */
public final class PciHotplugController implements BusDevice {
    private static final Logger LOG = Logger.getLogger(PciHotplugController.class.getName());
    public static final int INSERTED = 0, EJECT_REQUESTED = 4, EJECTED = 8, LENGTH = 12;

    private final InterruptController irq;
    private final int gsi;
    private final int hotpluggable;
    private final IntConsumer ejected;
    private int inserted, ejectRequested;
    private final AtomicBoolean badAccessLogged = new AtomicBoolean(), badEjectLogged = new AtomicBoolean();

    /**
     * @param hotpluggable the slots the tables describe as hot-pluggable (bit N = slot N)
     * @param ejected      told the slot number for each slot bit the OS writes to the eject register that lies
     *                     in {@code hotpluggable} (on the vCPU's thread: it must not block on the guest)
     */
    public PciHotplugController(InterruptController irq, int gsi, int hotpluggable, IntConsumer ejected) {
        this.irq = irq;
        this.gsi = gsi;
        this.hotpluggable = hotpluggable;
        this.ejected = ejected;
    }

    public int hotpluggableSlots() { return hotpluggable; }

    /** Tells the OS that {@code slot} holds a new function; the announcement waits for the OS to read it. */
    public synchronized void announceInserted(int slot) {
        inserted |= bit(slot);
        ejectRequested &= ~bit(slot);
        updateLine();
    }

    /** Asks the OS to let go of the function in {@code slot} and eject it; the request waits for the OS to read it. */
    public synchronized void requestEject(int slot) {
        ejectRequested |= bit(slot);
        inserted &= ~bit(slot);
        updateLine();
    }

    /**
     * The line follows the unread bits (called with the lock held, so two threads cannot leave it at a stale
     * level; the interrupt controller never calls back into this device).
     */
    private void updateLine() {
        irq.setLevel(gsi, (inserted | ejectRequested) != 0);
    }

    /** Whether an announcement is waiting for the OS to read it (a snapshot could not carry it). */
    public synchronized boolean pending() { return (inserted | ejectRequested) != 0; }

    private int bit(int slot) {
        if (slot < 1 || slot > 31 || (hotpluggable & (1 << slot)) == 0) throw new IllegalArgumentException("slot " + slot + " is not hot-pluggable");
        return 1 << slot;
    }

    @Override
    public long read(long offset, int size) {
        if (size != 4 || (offset != INSERTED && offset != EJECT_REQUESTED)) {
            bad("read of " + size + " bytes at offset " + offset);
            return size >= 8 ? -1L : (1L << (8 * size)) - 1;
        }
        synchronized (this) {
            int v = offset == INSERTED ? inserted : ejectRequested;
            if (offset == INSERTED) inserted = 0; else ejectRequested = 0;
            updateLine();
            return v & 0xFFFF_FFFFL;
        }
    }

    @Override
    public void write(long offset, int size, long value) {
        if (size != 4 || offset != EJECTED) {
            bad("write of " + size + " bytes at offset " + offset);
            return;
        }
        int bits = (int) value;
        int outside = bits & ~hotpluggable;
        if (outside != 0 && badEjectLogged.compareAndSet(false, true)) {
            LOG.warning(String.format("PCI hot-plug: the guest ejected slots 0x%08x that are not hot-pluggable; ignored"
                    + " (logged once)", outside));
        }
        for (int slot = 1; slot < 32; slot++) if ((bits & hotpluggable & (1 << slot)) != 0) ejected.accept(slot);
    }

    private void bad(String what) {
        if (badAccessLogged.compareAndSet(false, true)) {
            LOG.warning("PCI hot-plug registers: the guest's " + what + " is not a register; ignored (logged once)");
        }
    }
}
