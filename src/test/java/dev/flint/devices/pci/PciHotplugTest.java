package dev.flint.devices.pci;

import dev.flint.devices.RecordingInterrupts;
import dev.flint.machine.bus.Bus;
import dev.flint.machine.bus.BusDevice;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** The hot-plug registers the DSDT's GED and slot devices use, and the host bridge's slot add and removal. */
class PciHotplugTest {
    private static final int GSI = 5;
    private final RecordingInterrupts irq = new RecordingInterrupts();
    private final List<Integer> ejected = new ArrayList<>();
    /** Slots 2-31 hot-pluggable, as when one boot-time device sits in slot 1. */
    private final PciHotplugController hp = new PciHotplugController(irq, GSI, 0xFFFF_FFFC, ejected::add);

    @Test
    void announcementsHoldTheEventLineUpUntilTheOsReadsThemAndClearWhenRead() {
        hp.announceInserted(3);
        assertEquals(1, irq.rises(GSI));
        assertTrue(irq.level(GSI), "level-triggered: the line stays up while the announcement is unread");
        assertTrue(hp.pending());
        assertEquals(1L << 3, hp.read(PciHotplugController.INSERTED, 4));
        assertFalse(irq.level(GSI), "read: nothing unread, the line is low");
        assertEquals(0, hp.read(PciHotplugController.INSERTED, 4), "read-to-clear");
        hp.requestEject(3);
        hp.requestEject(7);
        assertEquals(2, irq.rises(GSI), "one assertion for both: the line was already up for the second");
        assertEquals((1L << 3) | (1L << 7), hp.read(PciHotplugController.EJECT_REQUESTED, 4));
        assertFalse(irq.level(GSI));
        assertEquals(0, hp.read(PciHotplugController.EJECT_REQUESTED, 4));
        assertFalse(hp.pending());
        // The line stays up until both registers were read, as _EVT reads them one after the other.
        hp.announceInserted(5);
        hp.requestEject(6);
        assertEquals(1L << 5, hp.read(PciHotplugController.INSERTED, 4));
        assertTrue(irq.level(GSI), "an eject request is still unread");
        assertEquals(1L << 6, hp.read(PciHotplugController.EJECT_REQUESTED, 4));
        assertFalse(irq.level(GSI));
        // A new insertion cancels an unread eject request for the slot, and the other way round.
        hp.requestEject(4);
        hp.announceInserted(4);
        assertEquals(0, hp.read(PciHotplugController.EJECT_REQUESTED, 4));
        assertEquals(1L << 4, hp.read(PciHotplugController.INSERTED, 4));
        assertThrows(IllegalArgumentException.class, () -> hp.announceInserted(1), "slot 1 is not hot-pluggable");
        assertFalse(irq.level(GSI), "a refused announcement raises nothing");
    }

    @Test
    void anAnnouncementNobodyReadsKeepsTheLineUpThroughLaterOnes() {
        // The guest's GED driver is not bound yet (or was unbound): nobody reads, nothing is dropped.
        hp.announceInserted(3);
        hp.announceInserted(9);
        hp.requestEject(10);
        assertTrue(irq.level(GSI));
        assertEquals((1L << 3) | (1L << 9), hp.read(PciHotplugController.INSERTED, 4), "both insertions wait for the OS");
        assertEquals(1L << 10, hp.read(PciHotplugController.EJECT_REQUESTED, 4));
        assertFalse(irq.level(GSI));
    }

    @Test
    void theOsEjectReachesTheOwnerForHotPluggableSlotsOnly() {
        hp.write(PciHotplugController.EJECTED, 4, (1L << 5) | (1L << 9));
        assertEquals(List.of(5, 9), ejected);
        ejected.clear();
        hp.write(PciHotplugController.EJECTED, 4, 0b11); // the host bridge and the boot-time device: not ejectable
        assertEquals(List.of(), ejected);
    }

    @Test
    void hostileAccessesChangeNothing() {
        hp.announceInserted(6);
        hp.write(PciHotplugController.INSERTED, 4, 0); // not writable
        hp.write(PciHotplugController.EJECTED, 1, 0xFF); // wrong size
        hp.write(100, 4, -1L);
        assertEquals(0xFFL, hp.read(PciHotplugController.INSERTED, 1), "a byte read is not a register");
        assertEquals(0xFFFF_FFFFL, hp.read(PciHotplugController.EJECTED, 4), "the eject register is write-only");
        assertEquals(List.of(), ejected);
        assertEquals(1L << 6, hp.read(PciHotplugController.INSERTED, 4), "the announcement is still there");
    }

    @Test
    void aRemovedFunctionLeavesAnEmptySlotAndDecodesNothing() {
        Bus io = new Bus("io"), mmio = new Bus("mmio");
        PciHostBridge bridge = PciTestBus.on(io, mmio, irq);
        PciConfigSpace config = new PciConfigSpace(0x1B36, 0x0010, 0x010802, 2, 0x1B36, 0x0010);
        config.setBar(0, new PciBar(0x4000, PciBar.Kind.MEMORY64, false, new BusDevice() {
            @Override public long read(long offset, int size) { return 0x1234; }
            @Override public void write(long offset, int size, long value) { }
        }));
        PciDevice device = new PciDevice() {
            @Override public String name() { return "nvme"; }
            @Override public PciConfigSpace configSpace() { return config; }
        };
        assertEquals(0xFFFF_FFFE, bridge.freeSlots(), "slots 1-31 free");
        assertTrue(bridge.addDeviceAt(4, device));
        assertFalse(bridge.addDeviceAt(4, device), "a taken slot");
        assertEquals(0, bridge.freeSlots() & (1 << 4));
        io.write(0xCF8, 4, 0x8000_0000L | (4 << 11));
        assertEquals(0x0010_1B36L, io.read(0xCFC, 4));
        io.write(0xCF8, 4, 0x8000_0000L | (4 << 11) | 0x10);
        io.write(0xCFC, 4, 0xC000_0000L);
        io.write(0xCF8, 4, 0x8000_0000L | (4 << 11) | 0x04);
        io.write(0xCFC, 2, PciConfigSpace.COMMAND_MEMORY);
        assertEquals(0x1234, mmio.read(0xC000_0000L, 4));

        assertSame(device, bridge.removeDevice(4));
        io.write(0xCF8, 4, 0x8000_0000L | (4 << 11));
        assertEquals(0xFFFF_FFFFL, io.read(0xCFC, 4), "an empty slot reads all ones");
        assertEquals(0xFFFF_FFFFL, mmio.read(0xC000_0000L, 4), "the BAR decodes nothing any more");
        assertNull(bridge.removeDevice(4), "removing twice is nothing");
        assertTrue(bridge.addDeviceAt(4, device), "the slot takes a function again");
    }
}
