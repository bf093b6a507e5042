package dev.flint.engine.emu.irq;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

class DualPicTest {
    private final IrqTestMachine m = new IrqTestMachine(1).enableApics();

    /** Linux's init_8259A: ICW1-4 with vectors 0x30/0x38 and the cascade on line 2, then unmask. */
    private void initLikeLinux() {
        out(0x20, 0x11); out(0x21, 0x30); out(0x21, 0x04); out(0x21, 0x01);
        out(0xA0, 0x11); out(0xA1, 0x38); out(0xA1, 0x02); out(0xA1, 0x01);
        out(0x21, 0x00);
        out(0xA1, 0x00);
    }

    private void out(int port, int value) { m.io.write(port, 1, value); }

    private int in(int port) { return (int) m.io.read(port, 1); }

    private void virtualWire() { m.write(0, 0x350, 0x700); } // LINT0 unmasked, ExtINT

    @Test
    void maskRegisterReadsBackWhatWasWritten() {
        out(0x21, 0xFB);
        assertEquals(0xFB, in(0x21));
        out(0xA1, 0xFF);
        assertEquals(0xFF, in(0xA1));
    }

    @Test
    void extIntThroughLint0SuppliesThePicVector() {
        initLikeLinux();
        virtualWire();
        m.irq.controller().pulse(1);
        assertEquals(0x31, m.apic(0).pendingVector());
        assertEquals(0x31, m.apic(0).acknowledge());
        assertEquals(-1, m.apic(0).pendingVector());
        assertFalse(m.inService(0, 0x31), "ExtINT vectors bypass the APIC's ISR");
        out(0x20, 0x0B);
        assertEquals(0x02, in(0x20), "OCW3 reads the master ISR");
        out(0x20, 0x61); // specific EOI for line 1
        assertEquals(0x00, in(0x20));
    }

    @Test
    void aPicInterruptWakesTheHaltedBootCpu() {
        initLikeLinux();
        virtualWire();
        int before = m.wakeups[0].get();
        m.irq.controller().pulse(4);
        assertTrue(m.wakeups[0].get() > before);
    }

    @Test
    void withTheApicHardwareDisabledThePicDrivesIntrDirectly() {
        initLikeLinux();
        assertTrue(m.apic(0).writeMsr(LocalApic.MSR_APIC_BASE, LocalApic.DEFAULT_BASE)); // enable bit clear
        m.irq.controller().pulse(1);
        assertEquals(0x31, m.apic(0).acknowledge());
        assertEquals(0, m.apic(0).mmioRead(0x30, 4), "the register page is gone");
    }

    @Test
    void maskedLint0KeepsThePicAway() {
        initLikeLinux();
        m.irq.controller().pulse(3);
        assertEquals(-1, m.apic(0).pendingVector());
        virtualWire();
        assertEquals(0x33, m.apic(0).pendingVector(), "the request was held by the PIC");
    }

    @Test
    void slaveInterruptsCascadeThroughMasterLine2() {
        initLikeLinux();
        virtualWire();
        m.irq.controller().pulse(12);
        assertEquals(0x3C, m.apic(0).acknowledge());
        out(0xA0, 0x0B);
        assertEquals(0x10, in(0xA0));
        out(0x20, 0x0B);
        assertEquals(0x04, in(0x20));
        out(0xA0, 0x20);
        out(0x20, 0x20);
        assertEquals(0, in(0xA0));
        assertEquals(0, in(0x20));
    }

    @Test
    void priorityAndMaskDecideWhatIsDelivered() {
        initLikeLinux();
        virtualWire();
        out(0x21, 0x08); // mask line 3
        m.irq.controller().pulse(3);
        m.irq.controller().pulse(5);
        m.irq.controller().pulse(4);
        assertEquals(0x34, m.apic(0).acknowledge(), "lowest unmasked line wins");
        assertEquals(-1, m.apic(0).pendingVector(), "line 5 waits for the EOI of line 4");
        out(0x20, 0x20); // non-specific EOI
        assertEquals(0x35, m.apic(0).acknowledge());
    }

    @Test
    void levelTriggeredLinesFromElcrStayRequestedWhileHigh() {
        initLikeLinux();
        virtualWire();
        out(0x4D1, 0x04); // IRQ 10 level-triggered
        assertEquals(0x04, in(0x4D1));
        m.irq.controller().setLevel(10, true);
        assertEquals(0x3A, m.apic(0).acknowledge());
        out(0xA0, 0x20);
        out(0x20, 0x20);
        assertEquals(0x3A, m.apic(0).pendingVector(), "still asserted");
        m.irq.controller().setLevel(10, false);
        assertEquals(-1, m.apic(0).pendingVector());
        out(0x4D0, 0xFF);
        assertEquals(0xF8, in(0x4D0), "IRQ 0-2 cannot be level-triggered");
    }

    @Test
    void autoEoiLeavesNothingInService() {
        out(0x20, 0x11); out(0x21, 0x30); out(0x21, 0x04); out(0x21, 0x03);
        out(0x21, 0x00);
        virtualWire();
        m.irq.controller().pulse(6);
        assertEquals(0x36, m.apic(0).acknowledge());
        out(0x20, 0x0B);
        assertEquals(0, in(0x20));
    }

    @Test
    void pollModeAcknowledgesThroughTheCommandPort() {
        initLikeLinux();
        m.irq.controller().pulse(7);
        out(0x20, 0x0C);
        assertEquals(0x87, in(0x20));
        out(0x20, 0x0B);
        assertEquals(0x80, in(0x20));
    }
}
