package dev.flint.engine.emu.irq;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

class LocalApicTest {
    private static final int ICR_LOW = 0x300, ICR_HIGH = 0x310, TPR = 0x80, ESR = 0x280;
    private static final int LVT_TIMER = 0x320, INITIAL = 0x380, CURRENT = 0x390, DIVIDE = 0x3E0;

    private final IrqTestMachine m = new IrqTestMachine(2).enableApics();

    @Test
    void initAndStartupIpisReachOnlyTheAddressedCpu() {
        m.write(0, ICR_HIGH, 1 << 24);
        m.write(0, ICR_LOW, 0x0000_C500); // INIT, level, assert
        m.write(0, ICR_LOW, 0x0000_8500); // INIT level de-assert: delivers nothing
        assertTrue(m.apic(1).takeInit());
        assertFalse(m.apic(1).takeInit(), "one INIT is taken once");
        assertFalse(m.apic(0).takeInit());

        m.write(0, ICR_LOW, 0x0000_069A); // STARTUP, vector page 0x9A
        assertEquals(0x9A, m.apic(1).takeSipi());
        assertEquals(-1, m.apic(1).takeSipi());
        assertEquals(-1, m.apic(0).takeSipi());
        assertTrue(m.wakeups[1].get() >= 2, "a halted target is woken");
        assertEquals(0, m.read(0, ICR_LOW) & (1 << 12), "delivery status reads idle");
    }

    @Test
    void initResetsTheTargetApicButKeepsItsId() {
        m.write(1, TPR, 0x70);
        m.write(0, ICR_HIGH, 1 << 24);
        m.write(0, ICR_LOW, 0x0000_C500);
        assertEquals(0, m.read(1, TPR));
        assertEquals(0xFF, m.read(1, 0xF0), "software-disabled after INIT");
        assertEquals(1 << 24, m.read(1, 0x20));
    }

    @Test
    void shorthandsSelectSelfAllAndAllButSelf() {
        m.write(0, ICR_LOW, 0x0004_0041); // self
        assertEquals(0x41, m.apic(0).pendingVector());
        assertEquals(-1, m.apic(1).pendingVector());
        m.write(1, ICR_LOW, 0x000C_0052); // all excluding self
        assertEquals(0x52, m.apic(0).pendingVector());
        assertEquals(-1, m.apic(1).pendingVector());
        m.write(1, ICR_LOW, 0x0008_0063); // all including self
        assertEquals(0x63, m.apic(0).pendingVector());
        assertEquals(0x63, m.apic(1).pendingVector());
        m.write(0, ICR_LOW, 0x0008_0400); // NMI to all
        assertTrue(m.apic(0).takeNmi());
        assertTrue(m.apic(1).takeNmi());
        assertFalse(m.apic(1).takeNmi());
    }

    @Test
    void taskPriorityHoldsBackInterruptsOfItsClassAndBelow() {
        m.write(0, ICR_LOW, 0x0004_0045);
        m.write(0, TPR, 0x40);
        assertEquals(-1, m.apic(0).pendingVector(), "class 4 does not beat TPR class 4");
        m.apic(0).setCr8(3);
        assertEquals(0x30, m.read(0, TPR));
        assertEquals(0x45, m.apic(0).pendingVector());
        m.apic(0).setCr8(0xF);
        assertEquals(15, m.apic(0).cr8());
        assertEquals(-1, m.apic(0).pendingVector());
        assertEquals(-1, m.apic(0).acknowledge());
        assertEquals(0xF0, m.read(0, 0xA0), "PPR follows TPR");
    }

    @Test
    void eoiRetiresTheHighestPriorityInServiceVectorFirst() {
        m.write(0, ICR_LOW, 0x0004_0040);
        assertEquals(0x40, m.take(0));
        m.write(0, ICR_LOW, 0x0004_0080);
        assertEquals(0x80, m.take(0), "a higher class nests");
        m.write(0, ICR_LOW, 0x0004_0050);
        assertEquals(-1, m.apic(0).pendingVector(), "0x50 waits behind in-service 0x80");
        assertEquals(0x80, m.read(0, 0xA0));
        m.eoi(0);
        assertFalse(m.inService(0, 0x80));
        assertTrue(m.inService(0, 0x40));
        assertEquals(0x50, m.take(0), "0x50 beats the remaining in-service 0x40");
        m.eoi(0);
        assertTrue(m.inService(0, 0x40));
        m.eoi(0);
        assertFalse(m.inService(0, 0x40));
        assertEquals(0, m.read(0, 0xA0));
    }

    @Test
    void logicalDestinationsInFlatAndClusterModels() {
        m.write(0, 0xD0, 0x01 << 24);
        m.write(1, 0xD0, 0x02 << 24);
        m.write(0, ICR_HIGH, 0x02 << 24);
        m.write(0, ICR_LOW, 0x0000_0841); // fixed, logical
        assertEquals(-1, m.apic(0).pendingVector());
        assertEquals(0x41, m.take(1));
        m.eoi(1);

        for (int cpu = 0; cpu < 2; cpu++) m.write(cpu, 0xE0, 0x0FFF_FFFF); // cluster model
        m.write(0, 0xD0, 0x11 << 24);
        m.write(1, 0xD0, 0x21 << 24);
        m.write(1, ICR_HIGH, 0x21 << 24);
        m.write(1, ICR_LOW, 0x0000_0842);
        assertEquals(-1, m.apic(0).pendingVector(), "cluster 1 is not addressed");
        assertEquals(0x42, m.take(1));
    }

    @Test
    void lowestPrioritySkipsApicsThatCannotAcceptIt() {
        m.write(0, 0xF0, 0xFF); // APIC 0 software-disabled
        m.write(0, 0xD0, 0x01 << 24);
        m.write(1, 0xD0, 0x02 << 24);
        m.write(1, ICR_HIGH, 0x03 << 24);
        m.write(1, ICR_LOW, 0x0000_0943);
        assertEquals(0x43, m.apic(1).pendingVector());
    }

    @Test
    void lowestPriorityGoesToOneApicOfTheSet() {
        m.write(0, 0xD0, 0x01 << 24);
        m.write(1, 0xD0, 0x02 << 24);
        m.write(1, ICR_HIGH, 0x03 << 24);
        m.write(1, ICR_LOW, 0x0000_0943); // lowest priority, logical, to both
        assertEquals(0x43, m.apic(0).pendingVector());
        assertEquals(-1, m.apic(1).pendingVector());
    }

    @Test
    void illegalVectorsAreReportedInTheErrorStatusRegister() {
        m.write(0, 0x370, 0xEE); // error LVT unmasked, vector 0xEE
        m.write(0, ICR_LOW, 0x0004_0003);
        assertEquals(0, m.read(0, ESR), "errors show only after an ESR write");
        m.write(0, ESR, 0);
        assertEquals(0x20, m.read(0, ESR), "send illegal vector");
        assertEquals(0xEE, m.take(0), "the error LVT interrupts");
        m.write(0, ESR, 0);
        assertEquals(0, m.read(0, ESR));
    }

    @Test
    void identityRegistersAndApicBaseMsr() {
        assertEquals(1 << 24, m.read(1, 0x20));
        assertEquals(0x0005_0014, m.read(0, 0x30), "version 0x14 with 6 LVT entries");
        assertEquals(0xFEE0_0900L, m.apic(0).readMsr(LocalApic.MSR_APIC_BASE), "enabled, BSP");
        assertEquals(0xFEE0_0800L, m.apic(1).readMsr(LocalApic.MSR_APIC_BASE));
        assertFalse(m.apic(0).writeMsr(LocalApic.MSR_APIC_BASE, 0xFEE0_0D00L), "x2APIC is not offered");
        assertNull(m.apic(0).readMsr(0x802));
        assertFalse(m.apic(0).writeMsr(0x802, 0));
    }

    @Test
    void softwareDisabledApicDropsFixedInterruptsButNotNmi() {
        m.write(1, 0xF0, 0xFF);
        m.write(0, ICR_HIGH, 1 << 24);
        m.write(0, ICR_LOW, 0x0000_0044);
        assertEquals(-1, m.apic(1).pendingVector());
        m.write(0, ICR_LOW, 0x0000_0400);
        assertTrue(m.apic(1).takeNmi());
    }

    @Test
    void oneShotTimerCountsDownAndFiresOnceWakingTheCpu() {
        m.write(0, DIVIDE, 0xB); // divide by 1: one count per nanosecond
        m.write(0, LVT_TIMER, 0x30);
        m.write(0, INITIAL, 1000);
        long start = m.time.now();
        assertEquals(start + 1000, m.apic(0).nextEventNanos());
        m.time.advance(400);
        assertEquals(600, m.read(0, CURRENT));
        m.time.advance(599);
        assertEquals(-1, m.apic(0).pendingVector());
        int before = m.wakeups[0].get();
        m.time.advance(1);
        assertTrue(m.wakeups[0].get() > before, "expiry wakes a halted vCPU");
        assertEquals(0x30, m.take(0));
        m.eoi(0);
        m.time.advance(10_000);
        assertEquals(-1, m.apic(0).pendingVector(), "one-shot fires once");
        assertEquals(0, m.read(0, CURRENT));
        assertEquals(Long.MAX_VALUE, m.apic(0).nextEventNanos());
    }

    @Test
    void periodicTimerReloadsWithTheDivider() {
        m.write(0, DIVIDE, 0x3); // divide by 16
        m.write(0, LVT_TIMER, 0x2_0031);
        m.write(0, INITIAL, 10_000); // period 160 µs
        m.time.advance(80_000);
        assertEquals(5_000, m.read(0, CURRENT));
        m.time.advance(80_000);
        assertEquals(0x31, m.take(0));
        m.eoi(0);
        m.time.advance(159_999);
        assertEquals(-1, m.apic(0).pendingVector());
        m.time.advance(1);
        assertEquals(0x31, m.take(0));
        m.write(0, INITIAL, 0);
        m.time.advance(1_000_000);
        assertEquals(-1, m.apic(0).pendingVector(), "initial count 0 stops the timer");
        assertEquals(0, m.time.pendingTasks());
    }

    @Test
    void changingTheDividerMidCountKeepsTheCountReached() {
        m.write(0, DIVIDE, 0xB); // divide by 1
        m.write(0, LVT_TIMER, 0x30);
        m.write(0, INITIAL, 1000);
        m.time.advance(400);
        m.write(0, DIVIDE, 0x0); // divide by 2: the remaining 600 counts take 1200 ns
        assertEquals(600, m.read(0, CURRENT));
        m.time.advance(1199);
        assertEquals(-1, m.apic(0).pendingVector());
        m.time.advance(1);
        assertEquals(0x30, m.take(0));
    }

    @Test
    void maskedTimerKeepsCountingWithoutInterrupting() {
        m.write(0, DIVIDE, 0xB);
        m.write(0, LVT_TIMER, 0x1_0030);
        m.write(0, INITIAL, 1000);
        m.time.advance(2000);
        assertEquals(-1, m.apic(0).pendingVector());
    }

    @Test
    void tscDeadlineTimerFiresAtTheDeadlineAndClearsIt() {
        m.write(0, LVT_TIMER, 0x4_0032);
        m.write(0, INITIAL, 5); // ignored in TSC-deadline mode
        assertEquals(0, m.read(0, INITIAL));
        long deadline = m.time.clock.tsc() + 5_000;
        assertTrue(m.apic(0).writeMsr(LocalApic.MSR_TSC_DEADLINE, deadline));
        assertEquals(deadline, m.apic(0).readMsr(LocalApic.MSR_TSC_DEADLINE));
        assertEquals(m.time.clock.nanosAtTsc(deadline), m.apic(0).nextEventNanos());
        m.time.advance(4_999);
        assertEquals(-1, m.apic(0).pendingVector());
        m.time.advance(1);
        assertEquals(0x32, m.take(0));
        assertEquals(0L, m.apic(0).readMsr(LocalApic.MSR_TSC_DEADLINE));
        m.eoi(0);

        m.apic(0).writeMsr(LocalApic.MSR_TSC_DEADLINE, 1); // already past: fires at once
        assertEquals(0x32, m.take(0));
    }

    @Test
    void aTscDeadlineBeyondTheHostClockNeverFires() {
        m.write(0, LVT_TIMER, 0x4_0032);
        assertTrue(m.apic(0).writeMsr(LocalApic.MSR_TSC_DEADLINE, -1L));
        assertTrue(m.apic(0).writeMsr(LocalApic.MSR_TSC_DEADLINE, Long.MAX_VALUE));
        m.time.advance(1_000_000_000L);
        assertEquals(-1, m.apic(0).pendingVector());
        assertEquals(Long.MAX_VALUE, m.apic(0).readMsr(LocalApic.MSR_TSC_DEADLINE));
    }

    @Test
    void leavingTscDeadlineModeDisarmsTheTimer() {
        m.write(0, LVT_TIMER, 0x4_0032);
        m.apic(0).writeMsr(LocalApic.MSR_TSC_DEADLINE, m.time.clock.tsc() + 1000);
        m.write(0, LVT_TIMER, 0x0_0032);
        m.time.advance(5000);
        assertEquals(-1, m.apic(0).pendingVector());
    }

    @Test
    void aTimerKeptByTheCpuArmsNoHostTaskAndFiresWhenTheCpuLooksAtTheClock() {
        m.write(0, LVT_TIMER, 0x4_0032);
        m.apic(0).writeMsr(LocalApic.MSR_TSC_DEADLINE, m.time.clock.tsc() + 1_000_000); // armed on the scheduler
        assertEquals(1, m.time.pendingTasks());
        m.apic(0).keepTimerOnCpu();
        assertEquals(0, m.time.pendingTasks(), "the task armed before is dropped");

        for (int i = 1; i <= 100; i++) { // a tickless guest re-arming on every idle entry and exit
            m.apic(0).writeMsr(LocalApic.MSR_TSC_DEADLINE, m.time.clock.tsc() + 5_000 + i);
        }
        long deadline = m.time.clock.tsc() + 5_000;
        m.apic(0).writeMsr(LocalApic.MSR_TSC_DEADLINE, deadline);
        assertEquals(0, m.time.pendingTasks(), "re-arming wakes no timer thread");
        assertEquals(m.time.clock.nanosAtTsc(deadline), m.apic(0).nextEventNanos(), "what the halted vCPU sleeps until");

        m.time.advance(5_000);
        assertEquals(-1, m.apic(0).pendingVector(), "nothing fires until the vCPU looks");
        m.apic(0).expireTimer(m.time.now() - 1);
        assertEquals(-1, m.apic(0).pendingVector(), "not before the deadline");
        m.apic(0).expireTimer(m.time.now());
        assertEquals(0x32, m.take(0));
        assertEquals(0L, m.apic(0).readMsr(LocalApic.MSR_TSC_DEADLINE));
        assertEquals(Long.MAX_VALUE, m.apic(0).nextEventNanos());
        m.eoi(0);

        // Periodic mode: each look past a period boundary fires once and moves the deadline to the next one.
        m.write(0, DIVIDE, 0xB); // divide by 1
        m.write(0, LVT_TIMER, 0x2_0033);
        m.write(0, INITIAL, 200_000);
        long first = m.apic(0).nextEventNanos();
        m.time.advance(200_000);
        m.apic(0).expireTimer(m.time.now());
        assertEquals(0x33, m.take(0));
        m.eoi(0);
        assertEquals(first + 200_000, m.apic(0).nextEventNanos());
        assertEquals(0, m.time.pendingTasks());
    }
}
