package dev.flint.arch.x86;

import dev.flint.machine.GuestMemory;

/**
 * Where things live in the guest-physical and port-I/O address spaces. One place, so the boot loader,
 * the firmware tables that describe the machine and the devices that implement it cannot disagree.
 *
 * <pre>
 *   0x0000_0500  GDT (boot)                0x0000_7000  zero page (boot_params)
 *   0x0000_9000  PML4, PDPT, 4 PDs (identity map of the first 4 GiB with 2 MiB pages)
 *   0x0002_0000  kernel command line       0x0009_FC00  EBDA .. 1 MiB: reserved in e820
 *   0x000E_0000  ACPI tables (RSDP first)  0x000F_0000  MP table
 *   0x0010_0000  RAM for the kernel        ...          RAM up to 3 GiB
 *   0xC000_0000  PCI 32-bit MMIO window    0xFC00_0000  platform MMIO (I/O APIC, LAPIC): reserved
 *   4 GiB        RAM above the hole        256 GiB      PCI 64-bit MMIO window (256 GiB)
 * </pre>
 */
public final class Layout {
    private Layout() {}

    public static final long GDT = 0x500;
    public static final long ZERO_PAGE = 0x7000;
    /** Top of a small boot stack below the page tables; Linux sets up its own right away. */
    public static final long BOOT_STACK_TOP = 0x8FF0;
    public static final long PML4 = 0x9000;
    public static final long PDPT = 0xA000;
    /** Four page directories, one per GiB of the identity map. */
    public static final long PD = 0xB000;
    public static final long CMDLINE = 0x20000;
    /** Room reserved for the command line including its terminating NUL. */
    public static final int CMDLINE_MAX = 0x10000;

    /** The extended BIOS data area start; from here to 1 MiB nothing is RAM for the guest. */
    public static final long EBDA = 0x9FC00;
    public static final long ACPI_TABLES = 0xE0000;
    public static final long ACPI_TABLES_END = 0xF0000;
    public static final long MP_TABLE = 0xF0000;
    public static final long BIOS_END = 0x100000;
    /** Real-mode reset vector F000:FFF0, where Linux's "BIOS" reboot method jumps; see {@code BootLoader}. */
    public static final long RESET_VECTOR = 0xFFFF0;
    /** Where RAM for the kernel starts (the classic "high memory" load address). */
    public static final long HIMEM = 0x100000;

    public static final long MMIO_HOLE = GuestMemory.LOW_RAM_LIMIT;
    /**
     * Flint's own fixed MMIO devices, first thing in the hole: the Firecracker-compatible boot timer sits at
     * its start (0xC000_0000, where Firecracker puts it). The PCI window begins after this megabyte so that
     * no BAR can land on them.
     */
    public static final long BOARD_MMIO = MMIO_HOLE;
    public static final long BOOT_TIMER = BOARD_MMIO;
    public static final long BOARD_MMIO_SIZE = 0x10_0000;
    public static final long PCI_MMIO32_BASE = BOARD_MMIO + BOARD_MMIO_SIZE;
    public static final long PCI_MMIO32_SIZE = 0xFC00_0000L - PCI_MMIO32_BASE;
    /** Fixed platform MMIO (APICs); reserved in e820 so Linux never puts a BAR there. */
    public static final long PLATFORM_MMIO = 0xFC00_0000L;
    public static final long IOAPIC = 0xFEC0_0000L;
    public static final long LAPIC = 0xFEE0_0000L;
    public static final long PCI_MMIO64_BASE = 0x40_0000_0000L;
    public static final long PCI_MMIO64_SIZE = 0x40_0000_0000L;

    // Port I/O and interrupt lines of the legacy devices.
    public static final int COM1_PORT = 0x3F8;
    public static final int COM1_IRQ = 4;
    public static final int I8042_DATA_PORT = 0x60;
    public static final int I8042_COMMAND_PORT = 0x64;
    public static final int I8042_KBD_IRQ = 1;
    public static final int I8042_AUX_IRQ = 12;
    public static final int RTC_PORT = 0x70;
    public static final int RTC_IRQ = 8;
    public static final int POST_PORT = 0x80;
    /** CMOS index of the century byte, named in the FADT. */
    public static final int RTC_CENTURY_INDEX = 0x32;

    /** PCI configuration mechanism #1: address register, then data register. */
    public static final int PCI_CONFIG_ADDRESS_PORT = 0xCF8;
    public static final int PCI_CONFIG_DATA_PORT = 0xCFC;
    /** PCI INTA#-INTD# of all slots are swizzled onto these 8 I/O APIC inputs (GSI 16-23). */
    public static final int PCI_INTX_GSI_BASE = 16;
    public static final int PCI_INTX_GSI_COUNT = 8;

    /**
     * Hardware-reduced ACPI registers (FADT SLEEP_CONTROL_REG, SLEEP_STATUS_REG, RESET_REG), one byte each.
     * The sleep type for S5 is {@link #ACPI_S5_SLEEP_TYPE} (the DSDT's \_S5 package).
     */
    public static final int ACPI_SLEEP_CONTROL_PORT = 0x600;
    public static final int ACPI_SLEEP_STATUS_PORT = 0x601;
    public static final int ACPI_RESET_PORT = 0x602;
    public static final int ACPI_RESET_VALUE = 0x01;
    public static final int ACPI_S5_SLEEP_TYPE = 5;
    /** PCI hot-plug registers ({@link PciHotplugInfo}): QEMU's traditional PCI hot-plug base, free here. */
    public static final int PCI_HOTPLUG_PORT = 0xAE00;
    /** The Generic Event Device's interrupt: an ISA line no legacy device of this machine uses. */
    public static final int GED_GSI = 5;

    /** The GSI a PCI function's INTx pin (1 = INTA) of the given slot arrives on; the tables say the same. */
    public static int pciIntxGsi(int slot, int pin) {
        return PCI_INTX_GSI_BASE + ((slot + pin - 1) & (PCI_INTX_GSI_COUNT - 1));
    }
}
