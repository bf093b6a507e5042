package dev.flint.devices.virtio;

import dev.flint.devices.RecordingInterrupts;
import dev.flint.devices.pci.PciHostBridge;
import dev.flint.devices.virtio.VirtioTestDriver.Segment;
import dev.flint.devices.virtio.rng.VirtioRng;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.bus.Bus;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** A paused VM's devices hold their I/O: nothing reaches guest memory until resume, then all of it does. */
class VirtioPauseTest {
    @Test
    void aPausedDeviceServesNothingUntilResumed() {
        Bus io = new Bus("io"), mmio = new Bus("mmio");
        RecordingInterrupts irq = new RecordingInterrupts();
        try (GuestMemory memory = GuestMemory.allocate(4 << 20);
             VirtioPciDevice rng = VirtioRng.pciDevice(memory, irq)) {
            int slot = dev.flint.devices.pci.PciTestBus.on(io, mmio, irq).addDevice(rng);
            VirtioTestDriver driver = new VirtioTestDriver(io, mmio, memory, slot).probe();
            driver.enableMsix(2);
            driver.negotiate(-1L);
            var q = driver.setupQueue(0, 64, 0x10000, 1);
            driver.driverOk();
            assertEquals(64, q.submit(List.of(Segment.out(0x100000, 64))), "served before the pause");

            rng.pause();
            long passes = rng.ioPasses();
            q.publish(q.addChain(List.of(Segment.out(0x100000, 64))));
            q.kick();
            q.kick();
            // A negative can only be watched for a while: 300 ms is many passes of a running I/O thread.
            assertFalse(q.awaitUsed(1, 300), "a paused device completed a request");
            assertEquals(passes, rng.ioPasses(), "a paused I/O thread made a pass");

            rng.resume();
            assertTrue(q.awaitUsed(1, 30_000), "the request notified while paused is served after resume");
            rng.pause();
            rng.resume();
            assertEquals(64, q.submit(List.of(Segment.out(0x100000, 64))), "pausing twice leaves it working");
        }
    }

    @Test
    void closingAPausedDeviceEndsItsThread() {
        Bus io = new Bus("io"), mmio = new Bus("mmio");
        RecordingInterrupts irq = new RecordingInterrupts();
        try (GuestMemory memory = GuestMemory.allocate(4 << 20)) {
            VirtioPciDevice rng = VirtioRng.pciDevice(memory, irq);
            rng.pause();
            long start = System.nanoTime();
            rng.close();
            assertTrue(System.nanoTime() - start < 4_000_000_000L, "close waited for its I/O thread's 5 s timeout");
            assertTrue(Thread.getAllStackTraces().keySet().stream()
                    .noneMatch(t -> t.getName().equals("virtio-rng-io") && t.isAlive()), "the paused I/O thread ended");
        }
    }
}
