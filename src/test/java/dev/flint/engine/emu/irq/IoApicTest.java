package dev.flint.engine.emu.irq;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

class IoApicTest {
    private static final int LEVEL = 1 << 15, MASKED = 1 << 16, REMOTE_IRR = 1 << 14;

    private final IrqTestMachine m = new IrqTestMachine(2).enableApics();

    @Test
    void identificationRegisters() {
        assertEquals(0x0017_0011, m.ioApicRead(0x01), "version 0x11, 24 entries");
        assertEquals(2 << 24, m.ioApicRead(0x00), "id after the two local APIC ids, as the MADT says");
        m.ioApicWrite(0x00, 0x0300_0000);
        assertEquals(0x0300_0000, m.ioApicRead(0x00));
        assertEquals(MASKED, m.ioApicRead(0x10 + 2 * 5), "entries reset masked");
    }

    @Test
    void levelTriggeredPinWaitsForEoiThroughRemoteIrr() {
        m.route(16, LEVEL | 0x61, 1);
        var line = m.irq.controller();
        line.setLevel(16, true);
        assertEquals(0x61, m.take(1));
        assertEquals(-1, m.apic(0).pendingVector(), "physical destination 1 only");
        assertNotEquals(0, m.ioApicRead(0x30) & REMOTE_IRR);
        assertNotEquals(0, m.read(1, 0x180 + (0x61 >>> 5) * 0x10) & (1 << (0x61 & 31)), "TMR marks it level");

        line.setLevel(16, false);
        line.setLevel(16, true);
        assertEquals(-1, m.apic(1).pendingVector(), "Remote IRR blocks a new delivery before EOI");

        m.eoi(1); // line still asserted: the EOI broadcast re-delivers it
        assertEquals(0x61, m.take(1));
        line.setLevel(16, false);
        m.eoi(1);
        assertEquals(0, m.ioApicRead(0x30) & REMOTE_IRR);
        assertEquals(-1, m.apic(1).pendingVector());
    }

    @Test
    void unmaskingAnAssertedLevelPinDeliversIt() {
        m.route(17, MASKED | LEVEL | 0x62, 0);
        m.irq.controller().setLevel(17, true);
        assertEquals(-1, m.apic(0).pendingVector());
        m.ioApicWrite(0x10 + 2 * 17, LEVEL | 0x62);
        assertEquals(0x62, m.take(0));
    }

    @Test
    void edgePinDeliversEachRisingEdgeAndLosesMaskedOnes() {
        m.route(4, 0x34, 0);
        m.irq.controller().pulse(4);
        assertEquals(0x34, m.take(0));
        m.eoi(0);
        m.ioApicWrite(0x10 + 2 * 4, MASKED | 0x34);
        m.irq.controller().pulse(4);
        m.ioApicWrite(0x10 + 2 * 4, 0x34);
        assertEquals(-1, m.apic(0).pendingVector());
    }

    @Test
    void isaIrq0ReachesPin2AndNoOtherPin() {
        m.route(0, 0x50, 0);
        m.route(2, 0x30, 0);
        m.irq.controller().pulse(0);
        assertEquals(0x30, m.take(0));
        m.eoi(0);
        assertEquals(-1, m.apic(0).pendingVector());
    }

    @Test
    void logicalDestinationReachesTheApicsInTheMask() {
        m.write(0, 0xD0, 0x01 << 24);
        m.write(1, 0xD0, 0x02 << 24);
        m.route(9, (1 << 11) | 0x49, 0x02);
        m.irq.controller().pulse(9);
        assertEquals(-1, m.apic(0).pendingVector());
        assertEquals(0x49, m.take(1));
    }

    @Test
    void msiGoesToTheApicItsAddressNames() {
        var line = m.irq.controller();
        line.sendMsi(0xFEE0_1000L, 0x0041);
        assertEquals(-1, m.apic(0).pendingVector());
        assertEquals(0x41, m.take(1));
        assertEquals(0, m.read(1, 0x180 + 0x20) & (1 << 1), "MSIs are edge-triggered");

        line.sendMsi(0xFEE0_0000L, 0x0400); // NMI
        assertTrue(m.apic(0).takeNmi());
        assertFalse(m.apic(1).takeNmi());

        m.write(0, 0xD0, 0x01 << 24);
        m.write(1, 0xD0, 0x02 << 24);
        line.sendMsi(0xFEE0_3000L | 0x4 | 0x8, 0x0051); // logical to both, redirection hint: one CPU
        assertEquals(0x51, m.apic(0).pendingVector());
        assertEquals(-1, m.apic(1).pendingVector());

        line.sendMsi(0xFED0_0000L, 0x0055); // not the APIC window: dropped
        line.sendMsi(0xFEE0_1000L, 0x0655); // STARTUP by MSI: dropped
        assertEquals(-1, m.apic(1).pendingVector());
    }
}
