package dev.flint.engine.emu.irq;

import static org.junit.jupiter.api.Assertions.*;

import dev.flint.engine.emu.GuestClock;
import dev.flint.machine.bus.Bus;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class EmuInterruptsTest {

    @Test
    void createRegistersEveryDeviceOnTheBuses() {
        var io = new Bus("io");
        var mmio = new Bus("mmio");
        try (var irq = EmuInterrupts.create(2, new GuestClock(), io, mmio)) {
            for (int port : new int[] {0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1, 0x40, 0x43, 0x61}) {
                assertNotNull(io.find(port), () -> "port 0x" + Integer.toHexString(port));
            }
            assertNull(io.find(0x60), "the keyboard controller's port stays free");
            assertEquals("ioapic", mmio.find(IoApic.BASE + 0x10).name());
            assertEquals(1, irq.apic(1).id());
            assertEquals(2, irq.cpuCount());
        }
    }

    @Test
    @Timeout(5)
    void theHostTimerThreadWakesAHaltedVcpuAtTheDeadline() throws InterruptedException {
        var clock = new GuestClock();
        try (var irq = EmuInterrupts.create(1, clock, new Bus("io"), new Bus("mmio"))) {
            LocalApic apic = irq.apic(0);
            var woken = new CountDownLatch(1);
            apic.setWakeup(woken::countDown);
            apic.mmioWrite(0xF0, 4, 0x1FF);
            apic.mmioWrite(0x320, 4, 0x4_0040);
            long start = System.nanoTime();
            apic.writeMsr(LocalApic.MSR_TSC_DEADLINE, clock.tsc() + 2_000_000); // 2 ms
            assertTrue(woken.await(2, TimeUnit.SECONDS));
            assertTrue(System.nanoTime() - start >= 2_000_000, "not before the deadline");
            assertEquals(0x40, apic.pendingVector());
        }
    }

    @Test
    void aVcpuStillRunningAfterCloseCanArmTimersHarmlessly() {
        var clock = new GuestClock();
        var irq = EmuInterrupts.create(1, clock, new Bus("io"), new Bus("mmio"));
        LocalApic apic = irq.apic(0);
        apic.mmioWrite(0xF0, 4, 0x1FF);
        apic.mmioWrite(0x320, 4, 0x4_0040);
        irq.close();
        assertTrue(apic.writeMsr(LocalApic.MSR_TSC_DEADLINE, clock.tsc() + 1_000_000));
    }

    @Test
    @Timeout(20)
    void vcpusInterruptingEachOtherConcurrentlyLoseNothingAndDoNotDeadlock() throws InterruptedException {
        var m = new IrqTestMachine(2).enableApics();
        int rounds = 5_000;
        var received = new AtomicInteger[] {new AtomicInteger(), new AtomicInteger()};
        var bothSent = new java.util.concurrent.CyclicBarrier(2);
        Thread[] cpus = new Thread[2];
        for (int cpu = 0; cpu < 2; cpu++) {
            int self = cpu, other = 1 - cpu;
            Runnable drain = () -> {
                // Take everything pending; repeated IPIs of one vector may merge in the IRR.
                while (m.apic(self).pendingVector() >= 0) {
                    m.apic(self).acknowledge();
                    m.eoi(self);
                    received[self].incrementAndGet();
                }
            };
            cpus[cpu] = new Thread(() -> {
                for (int sent = 0; sent < rounds; sent++) {
                    // The ICR is per APIC and written only by its own vCPU thread, as on hardware.
                    m.write(self, 0x310, other << 24);
                    m.write(self, 0x300, 0x50 + self);
                    drain.run();
                }
                try {
                    bothSent.await();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
                drain.run();
            });
            cpus[cpu].start();
        }
        for (Thread t : cpus) t.join();
        // Merging is allowed, so the count can fall short; an IPI left stranded in the IRR cannot.
        for (int cpu = 0; cpu < 2; cpu++) {
            assertTrue(received[cpu].get() > 0);
            assertEquals(-1, m.apic(cpu).pendingVector());
            assertEquals(0, m.read(cpu, 0x100 + 2 * 0x10), "nothing left in service");
        }
    }
}
