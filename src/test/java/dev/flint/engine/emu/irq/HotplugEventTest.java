package dev.flint.engine.emu.irq;

import static org.junit.jupiter.api.Assertions.*;

import dev.flint.devices.pci.PciHotplugController;
import org.junit.jupiter.api.Test;

/**
 * The PCI hot-plug event on the emu engine's I/O APIC, as the guest's ACPI GED driver meets it: an announcement
 * made while the GED's pin is still masked (the driver not bound yet: the guest is booting) is delivered when
 * the driver unmasks the pin, and is not delivered again once its {@code _EVT} read the registers.
 */
class HotplugEventTest {
    private static final int GSI = 5, VECTOR = 0x41, LEVEL = 1 << 15, MASKED = 1 << 16;

    private final IrqTestMachine m = new IrqTestMachine(1).enableApics();
    private final PciHotplugController hp = new PciHotplugController(m.irq.controller(), GSI, 0xFFFF_FFFC, slot -> { });

    @Test
    void anEventAnnouncedBeforeTheDriverEnabledItsInterruptIsTakenWhenItDoes() {
        m.route(GSI, MASKED | LEVEL | VECTOR, 0); // the OS programmed the pin as the GED's _CRS says, still masked
        hp.announceInserted(4);
        assertEquals(-1, m.apic(0).pendingVector(), "masked: nothing delivered yet");

        m.ioApicWrite(0x10 + 2 * GSI, LEVEL | VECTOR); // the GED driver binds: request_irq unmasks the pin
        assertEquals(VECTOR, m.take(0), "the pending announcement interrupts as soon as the pin is unmasked");
        // The driver's _EVT reads both registers, then the OS ends the interrupt.
        assertEquals(1L << 4, hp.read(PciHotplugController.INSERTED, 4));
        assertEquals(0, hp.read(PciHotplugController.EJECT_REQUESTED, 4));
        m.eoi(0);
        assertEquals(-1, m.apic(0).pendingVector(), "read and ended: no second interrupt");

        hp.requestEject(4);
        assertEquals(VECTOR, m.take(0), "a later announcement interrupts at once");
    }
}
