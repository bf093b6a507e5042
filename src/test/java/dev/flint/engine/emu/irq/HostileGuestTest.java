package dev.flint.engine.emu.irq;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** Whatever a guest writes to the interrupt hardware, Flint keeps running and stays consistent. */
class HostileGuestTest {
    private static final int[] PORTS = {0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1, 0x40, 0x41, 0x42, 0x43, 0x61};
    private static final int[] SIZES = {1, 2, 4, 8};

    @Test
    void randomRegisterTrafficNeverThrows() {
        var m = new IrqTestMachine(2);
        var random = new Random(42);
        for (int i = 0; i < 200_000; i++) {
            int size = SIZES[random.nextInt(SIZES.length)];
            long value = random.nextLong();
            switch (random.nextInt(6)) {
                case 0 -> m.apic(random.nextInt(2)).mmioWrite(random.nextInt(0x1000), size, value);
                case 1 -> m.apic(random.nextInt(2)).mmioRead(random.nextInt(0x1000), size);
                case 2 -> m.mmio.write(IoApic.BASE + random.nextInt(0x40), size, value);
                case 3 -> m.io.write(PORTS[random.nextInt(PORTS.length)], size, value);
                case 4 -> m.io.read(PORTS[random.nextInt(PORTS.length)], size);
                default -> {
                    m.irq.controller().setLevel(random.nextInt(24), random.nextBoolean());
                    m.irq.controller().sendMsi(0xFEE0_0000L | random.nextInt(0x100000), (int) value);
                    var apic = m.apic(random.nextInt(2));
                    if (apic.pendingVector() >= 0) apic.acknowledge();
                    apic.takeNmi();
                    apic.takeInit();
                    apic.takeSipi();
                }
            }
            if (i % 1000 == 0) m.time.advance(random.nextInt(1_000_000));
        }
        for (int cpu = 0; cpu < 2; cpu++) {
            assertEquals(LocalApic.DEFAULT_BASE, m.apic(cpu).apicBase() & ~0xFFFL, "no MMIO write moves the APIC");
        }
    }

    @Test
    void apicMsrsRejectReservedBits() {
        var apic = new IrqTestMachine(1).apic(0);
        assertFalse(apic.writeMsr(LocalApic.MSR_APIC_BASE, 1L << 63));
        assertFalse(apic.writeMsr(LocalApic.MSR_APIC_BASE, LocalApic.DEFAULT_BASE | 0x800 | 0x1));
        assertEquals(0xFEE0_0900L, apic.apicBase());
    }
}
