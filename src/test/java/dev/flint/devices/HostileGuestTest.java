package dev.flint.devices;

import dev.flint.devices.legacy.LegacyDevices;
import dev.flint.devices.pci.BarRegions;
import dev.flint.devices.pci.MsixCapability;
import dev.flint.devices.pci.PciBar;
import dev.flint.devices.pci.PciConfigSpace;
import dev.flint.devices.pci.PciDevice;
import dev.flint.devices.pci.PciHostBridge;
import dev.flint.machine.StopReason;
import dev.flint.machine.bus.Bus;
import dev.flint.machine.bus.BusDevice;
import org.junit.jupiter.api.Test;

import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** Random port, MMIO and configuration traffic must never throw out of a device or break the buses. */
class HostileGuestTest {
    @Test
    void randomTrafficNeverEscapesTheDevices() {
        Bus io = new Bus("io"), mmio = new Bus("mmio");
        RecordingInterrupts irq = new RecordingInterrupts();
        List<StopReason> stops = new ArrayList<>();
        try (LegacyDevices legacy = dev.flint.devices.legacy.LegacyDevicesTestSupport.install(io, mmio, irq, stops::add, null, OutputStream.nullOutputStream())) {
            PciHostBridge pci = dev.flint.devices.pci.PciTestBus.on(io, mmio, irq);
            PciConfigSpace config = new PciConfigSpace(0x1AF4, 0x1000, 0x020000, 0, 0x1AF4, 1);
            MsixCapability msix = new MsixCapability(config, irq, 3, 0, 0x100, 0, 0x200);
            config.setBar(0, new PciBar(0x1000, PciBar.Kind.MEMORY64, false, new BarRegions("bar0")
                    .add(0x100, msix.tableSize(), msix.table(), "table")
                    .add(0x200, msix.pbaSize(), msix.pba(), "pba")));
            config.setBar(2, new PciBar(0x20, PciBar.Kind.IO, false, new BusDevice() {
                @Override public long read(long o, int s) { return 0; }
                @Override public void write(long o, int s, long v) { }
            }));
            config.setInterruptPin(2);
            pci.addDevice(new PciDevice() {
                @Override public String name() { return "fuzz"; }
                @Override public PciConfigSpace configSpace() { return config; }
            });
            Random r = new Random(42);
            int[] sizes = {1, 2, 4, 8};
            int[] hotPorts = {0x3F8, 0x3F9, 0x3FA, 0x3FB, 0x3FC, 0x3FD, 0x3FE, 0x3FF, 0x60, 0x64, 0x70, 0x71, 0x80,
                    0xCF8, 0xCF9, 0xCFA, 0xCFB, 0xCFC, 0xCFD, 0xCFE, 0xCFF, 0x600, 0x601};
            for (int i = 0; i < 200_000; i++) {
                int size = sizes[r.nextInt(sizes.length)];
                long value = r.nextLong();
                switch (r.nextInt(4)) {
                    case 0 -> io.write(hotPorts[r.nextInt(hotPorts.length)], size, value);
                    case 1 -> io.read(hotPorts[r.nextInt(hotPorts.length)], size);
                    case 2 -> mmio.write(0xC000_0000L + r.nextInt(0x2000) + ((long) r.nextInt(4) << 32), size, value);
                    default -> {
                        msix.notify(r.nextInt(5) - 1);
                        config.setIntx(r.nextBoolean());
                    }
                }
            }
            legacy.i8042().sendCtrlAltDel();
            // Whatever the noise did, the bridge still answers a well-formed configuration read.
            io.write(0xCF8, 4, 0x8000_0000L);
            assertEquals(0x0008_1B36L, io.read(0xCFC, 4));
            assertTrue(stops.stream().allMatch(StopReason::guestRequested), "only resets and power-offs were requested");
        }
    }
}
