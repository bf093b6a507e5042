package dev.flint.arch.x86.acpi;

import dev.flint.arch.x86.PciHotplugInfo;

import java.util.ArrayList;
import java.util.List;

/**
 * PCI hot-plug the hardware-reduced way (no GPE block, no SCI): a Generic Event Device (ACPI0013) whose
 * interrupt makes the OS run its {@code _EVT}; that reads the VMM's hot-plug registers and notifies the
 * slot devices under {@code \_SB.PCI0}: Device Check (1) for a slot that got a function, Eject Request (3)
 * for one the host wants back. Each hot-pluggable slot is a device {@code Sxx} with {@code _ADR} (slot, function
 * 0), {@code _SUN} and {@code _EJ0}, which Linux's acpiphp registers as a slot; {@code _EJ0} (run by the OS after
 * it let go of the function) writes the slot's bit to the Ejected register. No {@code _STA}: the OS then
 * asks the slot's configuration space whether a function is there.
 */
final class PciHotplugAml {
    static final String REGION = "PHPR", INSERTED = "PCIU", EJECT_REQUESTED = "PCID", EJECTED = "PCEJ", SCAN = "PSCN";

    private PciHotplugAml() {}

    /** The slot device name for slot {@code n}: S01..S1F. */
    static String slotName(int n) { return String.format("S%02X", n); }

    /** The terms that go inside {@code \_SB.PCI0}: the register block, one device per slot, the scan method. */
    static List<byte[]> slots(PciHotplugInfo h) {
        List<byte[]> terms = new ArrayList<>();
        terms.add(Aml.operationRegion(REGION, Aml.SYSTEM_IO, h.port(), PciHotplugInfo.LENGTH));
        terms.add(Aml.field(REGION, Aml.DWORD_ACCESS, Aml.WRITE_AS_ZEROS, Aml.fieldUnit(INSERTED, 32),
                Aml.fieldUnit(EJECT_REQUESTED, 32), Aml.fieldUnit(EJECTED, 32)));
        List<byte[]> scan = new ArrayList<>();
        // Each register clears when read, so each is read once into a local and the bits tested there.
        scan.add(Aml.store(Aml.ref(INSERTED), Aml.local(0)));
        scan.add(Aml.store(Aml.ref(EJECT_REQUESTED), Aml.local(1)));
        for (int n = 1; n < 32; n++) {
            if ((h.slots() & (1 << n)) == 0) continue;
            terms.add(Aml.device(slotName(n),
                    Aml.name("_ADR", Aml.integer((long) n << 16)),
                    Aml.name("_SUN", Aml.integer(n)),
                    Aml.method("_EJ0", 1, Aml.store(Aml.integer(1L << n), Aml.ref(EJECTED)))));
            scan.add(Aml.ifThen(Aml.and(Aml.local(0), Aml.integer(1L << n)), Aml.notify(slotName(n), Aml.DEVICE_CHECK)));
            scan.add(Aml.ifThen(Aml.and(Aml.local(1), Aml.integer(1L << n)), Aml.notify(slotName(n), Aml.EJECT_REQUEST)));
        }
        terms.add(Aml.method(SCAN, 0, scan.toArray(byte[][]::new)));
        return terms;
    }

    /**
     * {@code \_SB.GED0}: the Generic Event Device on the hot-plug GSI, level-triggered (the VMM holds the line up
     * while an announcement is unread, so one made before the OS's driver bound is taken when it binds), its
     * {@code _EVT} running the scan.
     */
    static byte[] genericEventDevice(PciHotplugInfo h) {
        return Aml.device("GED0",
                Aml.name("_HID", Aml.string("ACPI0013")),
                Aml.name("_UID", Aml.integer(0)),
                Aml.name("_CRS", Resources.template(Resources.levelInterrupt(h.gsi()))),
                Aml.method("_EVT", 1, Aml.call("\\_SB.PCI0." + SCAN)));
    }
}
