package dev.flint.devices.pci;

import dev.flint.arch.x86.Layout;
import dev.flint.devices.RecordingInterrupts;
import dev.flint.machine.bus.Bus;
import dev.flint.machine.bus.BusDevice;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class PciHostBridgeTest {
    private final Bus io = new Bus("io"), mmio = new Bus("mmio");
    private final RecordingInterrupts irq = new RecordingInterrupts();
    private final PciHostBridge bridge = dev.flint.devices.pci.PciTestBus.on(io, mmio, irq);

    /** A device with a 4 KiB 32-bit BAR0, a 16 KiB 64-bit BAR2 holding an MSI-X table + PBA, and INTA. */
    private static final class TestDevice implements PciDevice {
        final PciConfigSpace config = new PciConfigSpace(0x1AF4, 0x1041, 0x020000, 1, 0x1AF4, 1);
        final MsixCapability msix;
        final BusDevice registers = new BusDevice() {
            @Override public long read(long offset, int size) { return 0xAB00 + offset; }
            @Override public void write(long offset, int size, long value) { }
        };

        TestDevice(RecordingInterrupts irq) {
            config.setInterruptPin(1);
            config.setBar(0, new PciBar(0x1000, PciBar.Kind.MEMORY32, false, registers));
            msix = new MsixCapability(config, irq, 4, 2, 0, 2, 0x2000);
            config.setBar(2, new PciBar(0x4000, PciBar.Kind.MEMORY64, true, new BarRegions("bar2")
                    .add(0, msix.tableSize(), msix.table(), "msix table")
                    .add(0x2000, msix.pbaSize(), msix.pba(), "msix pba")));
        }

        @Override public String name() { return "test"; }
        @Override public PciConfigSpace configSpace() { return config; }
    }

    private long cfgRead(int slot, int reg, int size) {
        io.write(0xCF8, 4, 0x8000_0000L | (slot << 11) | (reg & 0xFC));
        return io.read(0xCFC + (reg & 3), size);
    }

    private void cfgWrite(int slot, int reg, int size, long v) {
        io.write(0xCF8, 4, 0x8000_0000L | (slot << 11) | (reg & 0xFC));
        io.write(0xCFC + (reg & 3), size, v);
    }

    @Test
    void linuxType1ProbeSeesTheAddressRegisterAndAHostBridge() {
        io.write(0xCFB, 1, 0x01);
        io.write(0xCF8, 4, 0x8000_0000L);
        assertEquals(0x8000_0000L, io.read(0xCF8, 4));
        assertEquals(0x0008_1B36L, cfgRead(0, 0, 4));
        assertEquals(0x0600, cfgRead(0, 0x0A, 2), "class: host bridge");
        assertEquals(0xFFFF_FFFFL, cfgRead(5, 0, 4), "empty slot");
        assertEquals(0xFFFFL, cfgRead(5, 0, 2));
        io.write(0xCF8, 4, 0x8001_0000L); // bus 1
        assertEquals(0xFFFF_FFFFL, io.read(0xCFC, 4));
        io.write(0xCF8, 4, 0x8000_0100L); // 00:00.1
        assertEquals(0xFFFF_FFFFL, io.read(0xCFC, 4));
    }

    @Test
    void barSizingAndProgrammingMapsTheBarWhileMemoryDecodeIsOn() {
        int slot = bridge.addDevice(new TestDevice(irq));
        assertEquals(1, slot);
        cfgWrite(slot, 0x10, 4, 0xFFFF_FFFFL);
        assertEquals(0xFFFF_F000L, cfgRead(slot, 0x10, 4), "4 KiB, 32-bit, non-prefetchable");
        cfgWrite(slot, 0x18, 4, 0xFFFF_FFFFL);
        cfgWrite(slot, 0x1C, 4, 0xFFFF_FFFFL);
        assertEquals(0xFFFF_C00CL, cfgRead(slot, 0x18, 4), "16 KiB, 64-bit, prefetchable");
        assertEquals(0xFFFF_FFFFL, cfgRead(slot, 0x1C, 4));

        cfgWrite(slot, 0x10, 4, 0xC000_1000L);
        cfgWrite(slot, 0x18, 4, 0x0000_0000L);
        cfgWrite(slot, 0x1C, 4, 0x40L);
        assertNull(mmio.find(0xC000_1000L), "decode off: not mapped");
        cfgWrite(slot, 0x04, 2, PciConfigSpace.COMMAND_MEMORY | PciConfigSpace.COMMAND_BUS_MASTER);
        assertEquals(0xAB10, mmio.read(0xC000_1010L, 4));
        assertNotNull(mmio.find(0x40_0000_0000L), "64-bit BAR mapped high");
        cfgWrite(slot, 0x10, 4, 0xC000_8000L); // moved while decoding
        assertNull(mmio.find(0xC000_1000L));
        assertEquals(0xAB00, mmio.read(0xC000_8000L, 4));
        cfgWrite(slot, 0x04, 2, 0);
        assertNull(mmio.find(0xC000_8000L), "decode off again: unmapped");
    }

    @Test
    void overlappingBarIsLeftUnmappedInsteadOfFailing() {
        mmio.register(0xFEC0_0000L, 0x1000, new BusDevice() {
            @Override public long read(long o, int s) { return 0x1234; }
            @Override public void write(long o, int s, long v) { }
        }, "ioapic");
        int slot = bridge.addDevice(new TestDevice(irq));
        cfgWrite(slot, 0x10, 4, 0xFEC0_0000L);
        cfgWrite(slot, 0x04, 2, PciConfigSpace.COMMAND_MEMORY);
        assertEquals(0x1234, mmio.read(0xFEC0_0000L, 4), "the I/O APIC keeps its range");
        cfgWrite(slot, 0x04, 2, 0);
        assertEquals(0x1234, mmio.read(0xFEC0_0000L, 4), "and does not lose it when the BAR is disabled");
    }

    @Test
    void intxFollowsTheSwizzleAndTheDisableBit() {
        TestDevice d = new TestDevice(irq);
        int slot = bridge.addDevice(d);
        assertEquals(1, cfgRead(slot, 0x3D, 1), "INTA");
        int gsi = Layout.pciIntxGsi(slot, 1);
        d.config.setIntx(true);
        assertTrue(irq.level(gsi));
        assertEquals(PciConfigSpace.STATUS_INTERRUPT, cfgRead(slot, 0x06, 2) & PciConfigSpace.STATUS_INTERRUPT);
        cfgWrite(slot, 0x04, 2, PciConfigSpace.COMMAND_INTX_DISABLE);
        assertFalse(irq.level(gsi));
        cfgWrite(slot, 0x04, 2, 0);
        assertTrue(irq.level(gsi));
        d.config.setIntx(false);
        assertFalse(irq.level(gsi));
    }

    @Test
    void msixDeliversProgrammedMessagesAndHoldsMaskedOnesPending() {
        TestDevice d = new TestDevice(irq);
        int slot = bridge.addDevice(d);
        int cap = (int) cfgRead(slot, 0x34, 1);
        assertEquals(MsixCapability.CAP_ID, cfgRead(slot, cap, 1));
        assertEquals(3, cfgRead(slot, cap + 2, 2) & 0x7FF, "table size 4");
        assertEquals(2, cfgRead(slot, cap + 4, 4), "table in BAR2 at 0");
        assertEquals(0x2002, cfgRead(slot, cap + 8, 4), "PBA in BAR2 at 0x2000");
        cfgWrite(slot, 0x18, 4, 0xC010_0000L);
        cfgWrite(slot, 0x1C, 4, 0);
        cfgWrite(slot, 0x04, 2, PciConfigSpace.COMMAND_MEMORY | PciConfigSpace.COMMAND_BUS_MASTER);

        assertFalse(d.msix.notify(1), "MSI-X disabled");
        cfgWrite(slot, cap + 2, 2, 0x8000);
        long entry = 0xC010_0000L + 16;
        mmio.write(entry, 4, 0xFEE0_0000L);
        mmio.write(entry + 4, 4, 0);
        mmio.write(entry + 8, 4, 0x4031);
        assertTrue(d.msix.notify(1));
        assertTrue(irq.msis.isEmpty(), "vectors start masked");
        assertEquals(0b10, mmio.read(0xC010_2000L, 8), "pending bit");
        mmio.write(entry + 12, 4, 0); // unmask
        assertEquals(java.util.List.of(new RecordingInterrupts.Msi(0xFEE0_0000L, 0x4031)), irq.msis);
        assertEquals(0, mmio.read(0xC010_2000L, 8));
        cfgWrite(slot, cap + 2, 2, 0xC000); // function mask
        d.msix.notify(1);
        assertEquals(1, irq.msis.size());
        cfgWrite(slot, cap + 2, 2, 0x8000);
        assertEquals(2, irq.msis.size(), "released when the function mask clears");
        assertFalse(d.msix.notify(99), "no such vector");
        assertEquals(3, cfgRead(slot, cap + 2, 2) & 0x7FF, "table size is read-only");
    }

    @Test
    void hostileConfigAccessesAreHarmless() {
        TestDevice d = new TestDevice(irq);
        int slot = bridge.addDevice(d);
        cfgWrite(slot, 0x00, 4, 0);
        assertEquals(0x1041_1AF4L, cfgRead(slot, 0, 4), "IDs are read-only");
        cfgWrite(slot, 0x24, 4, 0xFFFF_FFFFL);
        assertEquals(0, cfgRead(slot, 0x24, 4), "unimplemented BAR5");
        io.write(0xCF8, 4, 0x8000_0000L | (slot << 11) | 0xFC);
        io.write(0xCFF, 4, 0xFFFF_FFFFL); // runs past the end of config space
        assertEquals(0xFFL, io.read(0xCFF, 4) & 0xFF);
        d.msix.table().write(0x1000, 4, 1); // beyond the table
        assertEquals(0, d.msix.table().read(0x1000, 4));
    }
}
