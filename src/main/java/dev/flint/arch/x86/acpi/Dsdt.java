package dev.flint.arch.x86.acpi;

import dev.flint.arch.x86.Layout;
import dev.flint.arch.x86.PlatformInfo;

import java.util.ArrayList;
import java.util.List;

/**
 * The AML namespace of a Flint machine: the \_S5 sleep type the hardware-reduced sleep register expects,
 * the PCI host bridge with its windows and INTx routing, and the legacy ISA devices so that Linux's
 * PNP drivers bind them to the right ports and interrupts.
 */
final class Dsdt {
    private Dsdt() {}

    /** The definition block body (everything after the table header). */
    static byte[] body(PlatformInfo platform) {
        List<byte[]> sb = new ArrayList<>();
        if (platform.pciHostBridge()) sb.add(pciHostBridge(platform));
        if (platform.pciHostBridge() && platform.hotplug() != null) sb.add(PciHotplugAml.genericEventDevice(platform.hotplug()));
        if (platform.serial()) {
            sb.add(Aml.device("COM1", Aml.name("_HID", Aml.eisaId("PNP0501")), Aml.name("_UID", Aml.integer(1)),
                    Aml.name("_CRS", Resources.template(Resources.io(Layout.COM1_PORT, 8), Resources.irq(Layout.COM1_IRQ)))));
        }
        if (platform.i8042()) {
            sb.add(Aml.device("PS2K", Aml.name("_HID", Aml.eisaId("PNP0303")),
                    Aml.name("_CRS", Resources.template(Resources.io(Layout.I8042_DATA_PORT, 1),
                            Resources.io(Layout.I8042_COMMAND_PORT, 1), Resources.irq(Layout.I8042_KBD_IRQ)))));
        }
        if (platform.rtc()) {
            // No IRQ: Flint's RTC does not raise alarm/periodic/update interrupts, so none is announced.
            sb.add(Aml.device("RTC", Aml.name("_HID", Aml.eisaId("PNP0B00")),
                    Aml.name("_CRS", Resources.template(Resources.io(Layout.RTC_PORT, 2)))));
        }
        // \_S5: SLP_TYPa, SLP_TYPb (the reduced-hardware sleep register only uses the first).
        byte[] s5 = Aml.name("\\_S5", Aml.pkg(Aml.integer(Layout.ACPI_S5_SLEEP_TYPE), Aml.integer(0)));
        return dev.flint.arch.x86.ByteWriter.concat(s5, Aml.scope("\\_SB", sb.toArray(byte[][]::new)));
    }

    private static byte[] pciHostBridge(PlatformInfo p) {
        List<byte[]> windows = new ArrayList<>();
        windows.add(Resources.busNumbers(0, 0xFF));
        windows.add(Resources.io(Layout.PCI_CONFIG_ADDRESS_PORT, 8)); // the bridge's own config ports
        windows.add(Resources.ioWindow(0x0000, Layout.PCI_CONFIG_ADDRESS_PORT - 1));
        windows.add(Resources.ioWindow(0x0D00, 0xFFFF));
        if (p.pciMmio32Size() > 0) windows.add(Resources.memory32Window(p.pciMmio32Base(), p.pciMmio32Size()));
        if (p.pciMmio64Size() > 0) windows.add(Resources.memory64Window(p.pciMmio64Base(), p.pciMmio64Size()));
        List<byte[]> terms = new ArrayList<>(List.of(
                Aml.name("_HID", Aml.eisaId("PNP0A03")),
                Aml.name("_UID", Aml.integer(0)),
                Aml.name("_SEG", Aml.integer(0)),
                Aml.name("_BBN", Aml.integer(0)),
                Aml.name("_CRS", Resources.template(windows.toArray(byte[][]::new))),
                Aml.name("_PRT", routingTable())));
        if (p.hotplug() != null) terms.addAll(PciHotplugAml.slots(p.hotplug()));
        return Aml.device("PCI0", terms.toArray(byte[][]::new));
    }

    /**
     * _PRT: INTA-INTD of every device on bus 0 to GSIs (source 0 = a global system interrupt), with the
     * same swizzle {@link Layout#pciIntxGsi} implements.
     */
    private static byte[] routingTable() {
        byte[][] entries = new byte[32 * 4][];
        for (int slot = 0; slot < 32; slot++) {
            for (int pin = 1; pin <= 4; pin++) {
                entries[slot * 4 + pin - 1] = Aml.pkg(Aml.integer(((long) slot << 16) | 0xFFFF),
                        Aml.integer(pin - 1), Aml.integer(0), Aml.integer(Layout.pciIntxGsi(slot, pin)));
            }
        }
        return Aml.pkg(entries);
    }
}
