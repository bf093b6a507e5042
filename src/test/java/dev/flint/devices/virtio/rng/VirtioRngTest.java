package dev.flint.devices.virtio.rng;

import dev.flint.devices.RecordingInterrupts;
import dev.flint.devices.pci.PciHostBridge;
import dev.flint.devices.virtio.VirtioPciDevice;
import dev.flint.devices.virtio.VirtioSpec;
import dev.flint.devices.virtio.VirtioTestDriver;
import dev.flint.devices.virtio.VirtioTestDriver.Segment;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.bus.Bus;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class VirtioRngTest {
    @Test
    void fillsTheGuestBufferWithFreshEntropy() {
        Bus io = new Bus("io"), mmio = new Bus("mmio");
        RecordingInterrupts irq = new RecordingInterrupts();
        try (GuestMemory memory = GuestMemory.allocate(4 << 20);
             VirtioPciDevice rng = VirtioRng.pciDevice(memory, irq)) {
            int slot = dev.flint.devices.pci.PciTestBus.on(io, mmio, irq).addDevice(rng);
            VirtioTestDriver driver = new VirtioTestDriver(io, mmio, memory, slot).probe();
            assertEquals(0x1044, driver.cfgRead(0x02, 2));
            driver.enableMsix(2);
            assertEquals(VirtioSpec.F_VERSION_1 | VirtioSpec.F_INDIRECT_DESC, driver.negotiate(-1L), "no device features");
            var q = driver.setupQueue(0, 64, 0x10000, 1);
            driver.driverOk();

            assertEquals(4096, q.submit(List.of(Segment.out(0x100000, 1024), Segment.out(0x200000, 3072))));
            VirtioTestDriver.awaitMsis(irq, 0x41, 1); // one message per completion while the driver waits for each
            byte[] first = new byte[1024], second = new byte[1024];
            memory.read(0x100000, first, 0, 1024);
            assertEquals(3072, q.submit(List.of(Segment.out(0x100000, 1024), Segment.out(0x101000, 2048))));
            memory.read(0x100000, second, 0, 1024);
            VirtioTestDriver.awaitMsis(irq, 0x41, 2);
            assertFalse(Arrays.equals(first, new byte[1024]), "filled");
            assertFalse(Arrays.equals(first, second), "not repeated");
            assertEquals(VirtioRng.MAX_BYTES_PER_REQUEST, q.submit(List.of(Segment.out(0x100000, 1 << 20))), "capped");
            VirtioTestDriver.awaitMsis(irq, 0x41, 3);
        }
    }
}
