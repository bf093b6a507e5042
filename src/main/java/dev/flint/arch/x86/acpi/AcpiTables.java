package dev.flint.arch.x86.acpi;

import dev.flint.arch.x86.ByteWriter;
import dev.flint.arch.x86.Layout;
import dev.flint.arch.x86.PlatformInfo;
import dev.flint.machine.GuestMemory;

/**
 * Writes the ACPI tables (RSDP, XSDT, FADT, DSDT, MADT) into the reserved area below 1 MiB.
 *
 * <p>The machine is <b>hardware-reduced ACPI</b> (FADT flag HW_REDUCED_ACPI, like Firecracker and Cloud
 * Hypervisor): no PM1 event/control blocks, no SCI, no PM timer, no GPEs. Power-off and reset go through
 * the FADT's sleep control and reset registers ({@link Layout#ACPI_SLEEP_CONTROL_PORT},
 * {@link Layout#ACPI_RESET_PORT}), which are tiny to implement identically for every engine. Linux then
 * uses neither the 8259 PIC nor the PIT (acpi_generic_reduced_hw_init): interrupts go through the I/O
 * APIC, the clock through the local APIC timer and the TSC.
 */
public final class AcpiTables {
    public static final String OEM_ID = "FLINT ";
    public static final String OEM_TABLE_ID = "FLINTVM ";
    static final int HEADER_SIZE = 36;

    static final int FADT_HW_REDUCED_ACPI = 1 << 20, FADT_RESET_REG_SUP = 1 << 10,
            FADT_PWR_BUTTON = 1 << 4, FADT_SLP_BUTTON = 1 << 5, FADT_WBINVD = 1;
    /** IAPC_BOOT_ARCH: legacy (ISA) devices present, 8042 present, no VGA. MSI stays allowed. */
    static final int IAPC_LEGACY_DEVICES = 1, IAPC_8042 = 2, IAPC_NO_VGA = 4;
    static final int MADT_LAPIC = 0, MADT_IOAPIC = 1, MADT_ISO = 2, MADT_LAPIC_NMI = 4;
    private static final int GAS_SYSTEM_IO = 1, GAS_BYTE_ACCESS = 1;

    private AcpiTables() {}

    /** Writes all tables and returns the guest-physical address of the RSDP. */
    public static long write(GuestMemory memory, int cpus, PlatformInfo platform) {
        long rsdp = Layout.ACPI_TABLES;
        long xsdtAddr = rsdp + 0x40;
        byte[] dsdt = dsdt(platform);
        long dsdtAddr = xsdtAddr + 0x40;
        long fadtAddr = align(dsdtAddr + dsdt.length);
        byte[] fadt = fadt(dsdtAddr);
        long madtAddr = align(fadtAddr + fadt.length);
        byte[] madt = madt(cpus);
        long end = madtAddr + madt.length;
        byte[] xsdt = xsdt(fadtAddr, madtAddr);
        if (xsdt.length > 0x40 || end > Layout.ACPI_TABLES_END) {
            throw new IllegalStateException("ACPI tables do not fit their reserved area");
        }
        memory.write(rsdp, rsdp(xsdtAddr));
        memory.write(xsdtAddr, xsdt);
        memory.write(dsdtAddr, dsdt);
        memory.write(fadtAddr, fadt);
        memory.write(madtAddr, madt);
        return rsdp;
    }

    private static long align(long a) { return (a + 15) & ~15L; }

    /** RSDP revision 2: the 20-byte ACPI 1.0 part has its own checksum, the whole 36 bytes another. */
    static byte[] rsdp(long xsdt) {
        ByteWriter w = new ByteWriter().ascii("RSD PTR ", 8, ' ').u8(0).ascii(OEM_ID, 6, ' ').u8(2)
                .u32(0).u32(36).u64(xsdt).u8(0).zeros(3);
        w.patchChecksum(8, 0, 20);
        w.patchChecksum(32, 0, 36);
        return w.toArray();
    }

    static byte[] xsdt(long... tables) {
        ByteWriter w = header("XSDT", 1);
        for (long t : tables) w.u64(t);
        return finish(w);
    }

    static byte[] dsdt(PlatformInfo platform) {
        return finish(header("DSDT", 2).bytes(Dsdt.body(platform)));
    }

    /** FADT revision 6 (ACPI 6.x layout, 276 bytes). */
    static byte[] fadt(long dsdt) {
        ByteWriter w = header("FACP", 6);
        w.u32(0).u32(dsdt);            // FIRMWARE_CTRL (no FACS: optional when hardware-reduced), DSDT
        w.u8(0).u8(0);                  // reserved, Preferred_PM_Profile: unspecified
        w.u16(0).u32(0);                // SCI_INT, SMI_CMD: none
        w.zeros(4);                     // ACPI_ENABLE/DISABLE, S4BIOS_REQ, PSTATE_CNT
        w.zeros(8 * 4);                 // PM1a/b event+control, PM2, PM timer, GPE0/1 blocks: none
        w.zeros(8);                     // their lengths, GPE1_BASE, CST_CNT
        w.u16(0).u16(0).u16(0).u16(0);  // C2/C3 latency, flush size/stride
        w.u8(0).u8(0).u8(0).u8(0);      // duty offset/width, day/month alarm
        w.u8(Layout.RTC_CENTURY_INDEX);
        w.u16(IAPC_LEGACY_DEVICES | IAPC_8042 | IAPC_NO_VGA).u8(0);
        w.u32(FADT_HW_REDUCED_ACPI | FADT_RESET_REG_SUP | FADT_PWR_BUTTON | FADT_SLP_BUTTON | FADT_WBINVD);
        gas(w, Layout.ACPI_RESET_PORT);
        w.u8(Layout.ACPI_RESET_VALUE);
        w.u16(0).u8(0);                 // ARM_BOOT_ARCH, FADT minor version
        w.u64(0).u64(dsdt);             // X_FIRMWARE_CTRL, X_DSDT
        w.zeros(8 * 12);                // X_PM1a_EVT .. X_GPE1: none
        gas(w, Layout.ACPI_SLEEP_CONTROL_PORT);
        gas(w, Layout.ACPI_SLEEP_STATUS_PORT);
        w.ascii("FLINTVMM", 8, ' ');    // hypervisor vendor identity
        return finish(w);
    }

    private static void gas(ByteWriter w, int port) {
        w.u8(GAS_SYSTEM_IO).u8(8).u8(0).u8(GAS_BYTE_ACCESS).u64(port);
    }

    /** MADT: one local APIC per vCPU (APIC ID = index), the I/O APIC after them, ISA IRQ 0 on GSI 2, LINT1 = NMI. */
    static byte[] madt(int cpus) {
        ByteWriter w = header("APIC", 5);
        w.u32(Layout.LAPIC).u32(0); // no PCAT_COMPAT: hardware-reduced, the 8259s are not in use
        for (int i = 0; i < cpus; i++) w.u8(MADT_LAPIC).u8(8).u8(i).u8(i).u32(1);
        w.u8(MADT_IOAPIC).u8(12).u8(ioApicId(cpus)).u8(0).u32(Layout.IOAPIC).u32(0);
        w.u8(MADT_ISO).u8(10).u8(0).u8(0).u32(2).u16(0);
        w.u8(MADT_LAPIC_NMI).u8(6).u8(0xFF).u16(0).u8(1);
        return finish(w);
    }

    /** The I/O APIC's ID: the first one after the vCPUs' local APIC IDs. */
    public static int ioApicId(int cpus) { return cpus; }

    static ByteWriter header(String signature, int revision) {
        return new ByteWriter().ascii(signature, 4, ' ').u32(0).u8(revision).u8(0)
                .ascii(OEM_ID, 6, ' ').ascii(OEM_TABLE_ID, 8, ' ').u32(1).ascii("FLNT", 4, ' ').u32(1);
    }

    static byte[] finish(ByteWriter w) {
        w.patch32(4, w.size());
        w.patchChecksum(9, 0, w.size());
        return w.toArray();
    }
}
