package dev.flint.arch.x86;

import dev.flint.arch.x86.acpi.AcpiTables;
import dev.flint.machine.GuestMemory;

/**
 * The Intel MultiProcessor Specification 1.4 table, which Linux reads when booted with acpi=off: the
 * floating pointer and configuration table at {@link Layout#MP_TABLE} (inside the BIOS area Linux scans).
 * It describes the same machine as the MADT: CPUs, one I/O APIC, ISA IRQs 1-15 on the same-numbered
 * pins (IRQ 0 on pin 2), PCI INTx on pins 16-23 as {@link Layout#pciIntxGsi} swizzles them.
 */
final class MpTable {
    private static final int PROCESSOR = 0, BUS = 1, IOAPIC = 2, IO_INTERRUPT = 3, LOCAL_INTERRUPT = 4;
    private static final int INT = 0, NMI = 1, EXTINT = 3;
    private static final int PCI_BUS = 0, ISA_BUS = 1;
    /** Level-triggered, active-low: how PCI INTx is wired (MP spec: polarity 3, trigger 3). */
    private static final int PCI_FLAGS = 0x0F;
    private static final int LAPIC_VERSION = 0x14, IOAPIC_VERSION = 0x11;

    private MpTable() {}

    static void write(GuestMemory memory, int cpus, PlatformInfo platform) {
        long tableAddr = Layout.MP_TABLE + 16;
        ByteWriter t = new ByteWriter().ascii("PCMP", 4, ' ').u16(0).u8(4).u8(0)
                .ascii("FLINT", 8, ' ').ascii("FLINTVM", 12, ' ').u32(0).u16(0).u16(0).u32(Layout.LAPIC)
                .u16(0).u8(0).u8(0);
        int entries = 0;
        for (int i = 0; i < cpus; i++, entries++) {
            // CPU signature family 6 and the FPU+APIC feature bits: what Linux only logs from here.
            t.u8(PROCESSOR).u8(i).u8(LAPIC_VERSION).u8(i == 0 ? 3 : 1).u32(0x600).u32(0x201).zeros(8);
        }
        if (platform.pciHostBridge()) {
            t.u8(BUS).u8(PCI_BUS).ascii("PCI", 6, ' ');
            entries++;
        }
        t.u8(BUS).u8(ISA_BUS).ascii("ISA", 6, ' ');
        entries++;
        int ioapic = AcpiTables.ioApicId(cpus);
        t.u8(IOAPIC).u8(ioapic).u8(IOAPIC_VERSION).u8(1).u32(Layout.IOAPIC);
        entries++;
        t.u8(IO_INTERRUPT).u8(EXTINT).u16(0).u8(ISA_BUS).u8(0).u8(ioapic).u8(0);
        entries++;
        for (int irq = 0; irq < 16; irq++) {
            if (irq == 2) continue; // the cascade: nothing is wired to ISA IRQ 2
            t.u8(IO_INTERRUPT).u8(INT).u16(0).u8(ISA_BUS).u8(irq).u8(ioapic).u8(irq == 0 ? 2 : irq);
            entries++;
        }
        if (platform.pciHostBridge()) {
            for (int slot = 1; slot < 32; slot++) {
                for (int pin = 1; pin <= 4; pin++, entries++) {
                    t.u8(IO_INTERRUPT).u8(INT).u16(PCI_FLAGS).u8(PCI_BUS).u8((slot << 2) | (pin - 1))
                            .u8(ioapic).u8(Layout.pciIntxGsi(slot, pin));
                }
            }
        }
        t.u8(LOCAL_INTERRUPT).u8(EXTINT).u16(0).u8(ISA_BUS).u8(0).u8(0xFF).u8(0);
        t.u8(LOCAL_INTERRUPT).u8(NMI).u16(0).u8(ISA_BUS).u8(0).u8(0xFF).u8(1);
        entries += 2;
        t.patch16(4, t.size());
        t.patch16(34, entries);
        t.patchChecksum(7, 0, t.size());
        if (tableAddr + t.size() > Layout.BIOS_END) throw new IllegalStateException("MP table too large");

        ByteWriter fp = new ByteWriter().ascii("_MP_", 4, ' ').u32(tableAddr).u8(1).u8(4).u8(0).zeros(5);
        fp.patchChecksum(10, 0, 16);
        memory.write(Layout.MP_TABLE, fp.toArray());
        memory.write(tableAddr, t.toArray());
    }
}
