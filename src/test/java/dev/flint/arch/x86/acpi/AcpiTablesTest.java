package dev.flint.arch.x86.acpi;

import dev.flint.arch.x86.ByteWriter;
import dev.flint.arch.x86.Layout;
import dev.flint.arch.x86.PlatformInfo;
import dev.flint.machine.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class AcpiTablesTest {
    private static final int CPUS = 3;
    private GuestMemory memory;
    private long rsdp;
    private final Map<String, Long> tables = new HashMap<>();

    @BeforeEach
    void writeTables() {
        memory = GuestMemory.allocate(64L << 20);
        rsdp = AcpiTables.write(memory, CPUS, PlatformInfo.standard());
        long xsdt = memory.readLong(rsdp + 24);
        int n = (memory.readInt(xsdt + 4) - 36) / 8;
        for (int i = 0; i < n; i++) {
            long t = memory.readLong(xsdt + 36 + i * 8L);
            tables.put(signature(t), t);
        }
        long fadt = tables.get("FACP");
        tables.put("DSDT", memory.readLong(fadt + 140));
    }

    @AfterEach
    void free() { memory.close(); }

    private String signature(long addr) {
        byte[] b = new byte[4];
        memory.read(addr, b, 0, 4);
        return new String(b, StandardCharsets.US_ASCII);
    }

    private byte[] table(long addr) {
        byte[] b = new byte[memory.readInt(addr + 4)];
        memory.read(addr, b, 0, b.length);
        return b;
    }

    @Test
    void rsdpIsFoundByScanAndBothChecksumsHold() {
        assertEquals(0, rsdp & 15, "16-byte aligned");
        assertTrue(rsdp >= 0xE0000 && rsdp < 0x100000, "in the range Linux scans");
        byte[] b = new byte[36];
        memory.read(rsdp, b, 0, 36);
        assertEquals("RSD PTR ", new String(b, 0, 8, StandardCharsets.US_ASCII));
        assertEquals(2, b[15], "revision 2 (has XSDT)");
        assertEquals(0, ByteWriter.sum(b, 0, 20));
        assertEquals(0, ByteWriter.sum(b, 0, 36));
    }

    @Test
    void everyTableChecksumsToZero() {
        assertEquals(java.util.Set.of("FACP", "APIC", "DSDT"), tables.keySet());
        for (var e : tables.entrySet()) {
            assertEquals(0, ByteWriter.sum(table(e.getValue()), 0, table(e.getValue()).length), e.getKey());
            assertEquals(e.getKey(), signature(e.getValue()));
        }
    }

    @Test
    void fadtIsHardwareReducedWithSleepAndResetRegisters() {
        long f = tables.get("FACP");
        assertEquals(276, memory.readInt(f + 4));
        int flags = memory.readInt(f + 112);
        assertNotEquals(0, flags & AcpiTables.FADT_HW_REDUCED_ACPI);
        assertNotEquals(0, flags & AcpiTables.FADT_RESET_REG_SUP);
        assertEquals(1, memory.readByte(f + 116), "reset register in I/O space");
        assertEquals(Layout.ACPI_RESET_PORT, memory.readLong(f + 120));
        assertEquals(Layout.ACPI_RESET_VALUE, memory.readByte(f + 128));
        assertEquals(Layout.ACPI_SLEEP_CONTROL_PORT, memory.readLong(f + 244 + 4));
        assertEquals(Layout.ACPI_SLEEP_STATUS_PORT, memory.readLong(f + 256 + 4));
        assertEquals(AcpiTables.IAPC_8042, memory.readShort(f + 109) & AcpiTables.IAPC_8042, "i8042 present");
        assertEquals(0, memory.readShort(f + 109) & 0x28, "MSI allowed, CMOS RTC present");
        assertEquals(Layout.RTC_CENTURY_INDEX, memory.readByte(f + 108));
    }

    @Test
    void madtListsEachCpuAndTheIoApic() {
        long m = tables.get("APIC");
        int len = memory.readInt(m + 4);
        assertEquals(Layout.LAPIC, memory.readInt(m + 36) & 0xFFFF_FFFFL);
        int lapics = 0;
        boolean ioapic = false, irq0Override = false, nmi = false;
        for (long p = m + 44; p < m + len; p += memory.readByte(p + 1) & 0xFF) {
            switch (memory.readByte(p)) {
                case 0 -> {
                    assertEquals(lapics, memory.readByte(p + 3), "APIC IDs 0..n-1");
                    assertEquals(1, memory.readInt(p + 4), "enabled");
                    lapics++;
                }
                case 1 -> {
                    ioapic = true;
                    assertEquals(CPUS, memory.readByte(p + 2), "I/O APIC ID after the CPUs");
                    assertEquals(Layout.IOAPIC, memory.readInt(p + 4) & 0xFFFF_FFFFL);
                    assertEquals(0, memory.readInt(p + 8), "GSI base");
                }
                case 2 -> irq0Override = memory.readByte(p + 3) == 0 && memory.readInt(p + 4) == 2;
                case 4 -> nmi = memory.readByte(p + 5) == 1;
                default -> fail("unexpected MADT entry type " + memory.readByte(p));
            }
        }
        assertEquals(CPUS, lapics);
        assertTrue(ioapic && irq0Override && nmi);
    }

    @Test
    void dsdtNamesTheDevicesLinuxMustFind() {
        String aml = new String(table(tables.get("DSDT")), StandardCharsets.ISO_8859_1);
        for (String name : new String[] {"_S5_", "PCI0", "_PRT", "_CRS", "COM1", "PS2K", "RTC_"}) {
            assertTrue(aml.contains(name), name);
        }
    }

    /** The real ACPICA disassembler must accept the tables without errors (skipped where iasl is absent). */
    @Test
    void iaslDisassemblesTheTables(@TempDir Path dir) throws Exception {
        Path iasl = Path.of("/usr/bin/iasl");
        assumeTrue(Files.isExecutable(iasl), "acpica-tools not installed");
        for (var e : tables.entrySet()) Files.write(dir.resolve(e.getKey().toLowerCase() + ".dat"), table(e.getValue()));
        for (String t : new String[] {"dsdt", "facp", "apic"}) {
            Process p = new ProcessBuilder(iasl.toString(), "-d", t + ".dat").directory(dir.toFile())
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), out);
            String dsl = Files.readString(dir.resolve(t + ".dsl"));
            assertFalse(dsl.contains("**** ACPI table terminates in the middle"), dsl);
            assertFalse(dsl.toLowerCase().contains("invalid"), dsl);
            if (t.equals("dsdt")) {
                assertTrue(dsl.contains("EisaId (\"PNP0A03\")"), dsl);
                assertTrue(dsl.contains("Name (\\_S5, Package"), dsl);
                assertTrue(dsl.contains("WordBusNumber"), dsl);
                assertTrue(dsl.contains("QWordMemory"), dsl);
            }
            if (t.equals("facp")) assertTrue(dsl.contains("Hardware Reduced (V5) : 1"), dsl);
        }
    }
}
