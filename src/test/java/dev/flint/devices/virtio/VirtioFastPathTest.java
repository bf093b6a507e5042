package dev.flint.devices.virtio;

import dev.flint.devices.RecordingFastPaths;
import dev.flint.devices.RecordingInterrupts;
import dev.flint.devices.pci.PciHostBridge;
import dev.flint.devices.virtio.VirtioTestDriver.Segment;
import dev.flint.devices.virtio.rng.VirtioRng;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.bus.Bus;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.OptionalLong;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The virtio transport on an engine that offers I/O shortcuts (played here by {@link RecordingFastPaths};
 * the kvm engine's real ones are tested in KvmEngineTest and nested): notify registers follow BAR0, a
 * signalled kick eventfd is served like a notify write, and MSI-X vectors go through routes that follow
 * the guest's table and mask bits.
 */
class VirtioFastPathTest {
    static final long NOTIFY = VirtioTestDriver.BAR_ADDRESS + 0x3000;
    static final long VECTOR1 = VirtioTestDriver.BAR_ADDRESS + 0x4000 + 16;
    static final long PBA = VirtioTestDriver.BAR_ADDRESS + 0x5000;

    final Bus io = new Bus("io"), mmio = new Bus("mmio");
    final RecordingInterrupts irq = new RecordingInterrupts();
    final RecordingFastPaths engine = new RecordingFastPaths(8);
    GuestMemory memory;
    VirtioPciDevice rng;
    VirtioTestDriver driver;
    VirtioTestDriver.Queue queue;

    @BeforeEach
    void plug() {
        memory = GuestMemory.allocate(4 << 20);
        rng = VirtioRng.pciDevice(memory, irq);
        rng.useFastPaths(engine.both());
        int slot = dev.flint.devices.pci.PciTestBus.on(io, mmio, irq).addDevice(rng);
        driver = new VirtioTestDriver(io, mmio, memory, slot).probe();
        driver.enableMsix(2);
        driver.negotiate(-1L);
        queue = driver.setupQueue(0, 64, 0x10000, 1);
        driver.driverOk();
    }

    @AfterEach
    void unplug() {
        rng.close();
        memory.close();
    }

    @Test
    void theNotifyRegisterIsDivertedWhereverTheGuestMapsBar0() {
        var r = single();
        assertEquals(NOTIFY, r.address);
        assertEquals(2, r.width, "the driver writes the 16-bit queue index");
        assertEquals(OptionalLong.empty(), r.datamatch);

        int command = (int) driver.cfgRead(0x04, 2);
        driver.cfgWrite(0x04, 2, command & ~0x2); // memory decode off: nothing may stay diverted
        assertEquals(List.of(), engine.open());
        driver.cfgWrite(0x10, 4, 0xE010_0000L);   // the guest moves BAR0, then decodes again
        driver.cfgWrite(0x04, 2, command);
        assertEquals(0xE010_3000L, single().address);
        assertTrue(!r.open, "the old address is released");

        driver.cfgWrite(0x10, 4, VirtioTestDriver.BAR_ADDRESS); // back where the test driver talks to it
        assertEquals(NOTIFY, single().address);
        rng.close();
        assertEquals(List.of(), engine.open(), "a closed device leaves nothing registered");
    }

    @Test
    void aSignalledKickIsServedLikeANotifyWriteAndTheBusPathStillWorks() {
        publish();
        single().eventfd.signal(); // what KVM does when the guest writes the register
        awaitUsed(1);
        publish();
        queue.kick(); // a write the engine did not divert (another width, say) reaches the bus
        awaitUsed(2);
        // The I/O thread may serve both buffers on one wake-up and drain the signalled eventfd (which is
        // when it counts it) on its next pass: wait for the counts rather than read them at once.
        await(() -> rng.counters().get("notify_eventfd") == 1L, "one notification by eventfd");
        var counters = rng.counters();
        assertEquals(1L, counters.get("notify_eventfd"));
        assertEquals(1L, counters.get("notify_mmio"));
    }

    @Test
    void msixVectorsGoThroughRoutesThatFollowTheTableAndTheMaskBits() {
        kickAndAwait(1);
        awaitFired(1);
        var route = engine.routes.getFirst();
        assertEquals(new RecordingFastPaths.Msi(0xFEE0_0000L, 0x41), route.current());
        synchronized (irq) {
            assertTrue(irq.msis.isEmpty(), "no MSI through the ioctl path when a route exists");
        }

        mmio.write(VECTOR1 + 12, 4, 1); // mask
        kickAndAwait(2);
        awaitPending();
        assertEquals(1, engine.fired(), "a masked vector does not fire");
        mmio.write(VECTOR1 + 8, 4, 0x51); // reprogrammed while masked
        mmio.write(VECTOR1 + 12, 4, 0);   // unmask: the pending message goes out, with the new data
        awaitFired(2);
        assertEquals(new RecordingFastPaths.Msi(0xFEE0_0000L, 0x51), route.current());
        assertEquals(0, mmio.read(PBA, 8));
        assertEquals(1, engine.routes.size(), "one route per vector, reprogrammed in place");
        assertEquals(2L, rng.counters().get("msi_routed"));

        rng.close();
        assertTrue(route.closed, "routes are released with the device");
    }

    @Test
    void withoutRoutesLeftVectorsFallBackToSendMsi() {
        var none = new RecordingFastPaths(0);
        try (GuestMemory mem = GuestMemory.allocate(4 << 20); VirtioPciDevice other = VirtioRng.pciDevice(mem, irq)) {
            other.useFastPaths(none.both());
            Bus io2 = new Bus("io"), mmio2 = new Bus("mmio");
            int slot = dev.flint.devices.pci.PciTestBus.on(io2, mmio2, irq).addDevice(other);
            var d = new VirtioTestDriver(io2, mmio2, mem, slot).probe();
            d.enableMsix(2);
            d.negotiate(-1L);
            var q = d.setupQueue(0, 64, 0x10000, 1);
            d.driverOk();
            q.submit(List.of(Segment.out(0x100000, 16)));
            VirtioTestDriver.awaitMsis(irq, 0x41, 1);
            assertEquals(1L, other.counters().get("msi_sent"));
        }
    }

    private RecordingFastPaths.Diverted single() {
        var open = engine.open();
        assertEquals(1, open.size(), "one queue, one diverted register: " + open.size());
        return open.getFirst();
    }

    private void publish() {
        queue.publish(queue.addChain(List.of(Segment.out(0x100000, 16))));
    }

    private void kickAndAwait(int used) {
        publish();
        single().eventfd.signal();
        awaitUsed(used);
    }

    private void awaitUsed(int count) {
        await(() -> queue.usedIndex() == count, "used index " + count);
    }

    private void awaitFired(int count) {
        await(() -> engine.fired() == count, count + " routed messages");
    }

    private void awaitPending() {
        await(() -> (mmio.read(PBA, 8) & 2) != 0, "vector 1 pending");
    }

    private static void await(BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) fail("no " + what + " within 5 s");
            Thread.onSpinWait();
        }
    }
}
