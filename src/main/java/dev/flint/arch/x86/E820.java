package dev.flint.arch.x86;

import dev.flint.machine.GuestMemory;

import java.util.ArrayList;
import java.util.List;

/** The BIOS memory map Linux reads from the zero page: what is RAM and what it must leave alone. */
public final class E820 {
    public static final int RAM = 1, RESERVED = 2, ACPI = 3;
    /** boot_params.e820_table holds at most this many entries. */
    public static final int MAX_ENTRIES = 128;

    public record Entry(long addr, long size, int type) {
        public long end() { return addr + size; }
    }

    private E820() {}

    /**
     * The map for {@code memory}: base memory up to the EBDA, the EBDA/VGA/BIOS area up to 1 MiB
     * reserved (the ACPI tables and the MP table live there), RAM from 1 MiB, the platform MMIO range
     * (I/O APIC, LAPIC) reserved, RAM above 4 GiB. The PCI windows are deliberately not reserved: Linux
     * clips host bridge windows against reserved e820 ranges and would have no room left for BARs.
     */
    public static List<Entry> of(GuestMemory memory) {
        List<Entry> map = new ArrayList<>();
        map.add(new Entry(0, Layout.EBDA, RAM));
        map.add(new Entry(Layout.EBDA, Layout.BIOS_END - Layout.EBDA, RESERVED));
        map.add(new Entry(Layout.HIMEM, memory.lowRamSize() - Layout.HIMEM, RAM));
        map.add(new Entry(Layout.PLATFORM_MMIO, GuestMemory.HIGH_RAM_START - Layout.PLATFORM_MMIO, RESERVED));
        if (memory.highRamSize() > 0) map.add(new Entry(GuestMemory.HIGH_RAM_START, memory.highRamSize(), RAM));
        return map;
    }
}
