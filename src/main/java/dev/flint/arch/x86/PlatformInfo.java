package dev.flint.arch.x86;

/**
 * What the firmware tables (ACPI, MP table) describe beyond the CPUs and RAM: the PCI host bridge's
 * address windows, which legacy devices exist, and PCI hot-plug (null: none).
 */
public record PlatformInfo(long pciMmio32Base, long pciMmio32Size, long pciMmio64Base, long pciMmio64Size,
                           boolean pciHostBridge, boolean serial, boolean i8042, boolean rtc, PciHotplugInfo hotplug) {

    /** A platform without PCI hot-plug. */
    public PlatformInfo(long pciMmio32Base, long pciMmio32Size, long pciMmio64Base, long pciMmio64Size,
                        boolean pciHostBridge, boolean serial, boolean i8042, boolean rtc) {
        this(pciMmio32Base, pciMmio32Size, pciMmio64Base, pciMmio64Size, pciHostBridge, serial, i8042, rtc, null);
    }

    public PlatformInfo {
        if (pciMmio32Size < 0 || pciMmio64Size < 0) throw new IllegalArgumentException("negative PCI window");
        if (pciMmio32Base + pciMmio32Size > Layout.PLATFORM_MMIO) {
            throw new IllegalArgumentException("PCI 32-bit window overlaps the platform MMIO range");
        }
    }

    /** The machine Flint builds: PCI bus 0, COM1, i8042 and RTC, windows as in {@link Layout}. */
    public static PlatformInfo standard() {
        return new PlatformInfo(Layout.PCI_MMIO32_BASE, Layout.PCI_MMIO32_SIZE,
                Layout.PCI_MMIO64_BASE, Layout.PCI_MMIO64_SIZE, true, true, true, true);
    }

    /** The same platform with PCI hot-plug described by {@code hotplug}. */
    public PlatformInfo withHotplug(PciHotplugInfo hotplug) {
        return new PlatformInfo(pciMmio32Base, pciMmio32Size, pciMmio64Base, pciMmio64Size, pciHostBridge, serial, i8042, rtc, hotplug);
    }
}
