package dev.flint.engine.emu.irq;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

class Pit8254Test {
    private final IrqTestMachine m = new IrqTestMachine(1).enableApics();

    private void out(int port, int value) { m.io.write(port, 1, value); }

    private int in(int port) { return (int) m.io.read(port, 1); }

    /** Time for {@code ticks} PIT input clocks. */
    private static long ticks(long ticks) { return PitChannel.ticksToNanos(ticks); }

    private int latchedCount(int channel) {
        out(0x43, channel << 6); // counter latch
        return in(0x40 + channel) | in(0x40 + channel) << 8;
    }

    @Test
    void mode2RateGeneratorCountsDownAndInterruptsEveryPeriod() {
        m.route(2, 0x30, 0); // ISA IRQ 0 arrives on I/O APIC pin 2
        out(0x43, 0x34);     // counter 0, LSB then MSB, mode 2
        out(0x40, 1193 & 0xFF);
        out(0x40, 1193 >> 8);
        long start = m.time.now();
        m.time.advance(ticks(100));
        assertEquals(1093, latchedCount(0));
        assertEquals(-1, m.apic(0).pendingVector());
        m.time.advance(ticks(1193) - (m.time.now() - start));
        assertEquals(0x30, m.take(0), "OUT's rising edge at the end of the period raises IRQ 0");
        m.eoi(0);
        assertEquals(1193, latchedCount(0), "reloaded");
        m.time.advance(ticks(2 * 1193) - (m.time.now() - start) - 1);
        assertEquals(-1, m.apic(0).pendingVector());
        m.time.advance(1);
        assertEquals(0x30, m.take(0));
    }

    @Test
    void mode0InterruptsOnceAtTerminalCount() {
        m.route(2, 0x30, 0);
        out(0x43, 0x30); // counter 0, LSB then MSB, mode 0
        out(0x40, 0x00);
        out(0x40, 0x10); // 4096
        m.time.advance(ticks(4095));
        assertEquals(-1, m.apic(0).pendingVector());
        m.time.advance(ticks(4096) - ticks(4095));
        assertEquals(0x30, m.take(0));
        m.eoi(0);
        m.time.advance(ticks(100_000));
        assertEquals(-1, m.apic(0).pendingVector(), "mode 0 does not repeat");
        assertEquals(0, m.time.pendingTasks());
    }

    @Test
    void counter2GateAndOutAreVisibleThroughPort61LikeLinuxCalibration() {
        out(0x61, (in(0x61) & ~0x02) | 0x01); // gate on, speaker off
        out(0x43, 0xB0);                       // counter 2, LSB then MSB, mode 0
        out(0x42, 0xE8);
        out(0x42, 0x03);                       // 1000
        assertEquals(0, in(0x61) & 0x20, "OUT low while counting");
        m.time.advance(ticks(999));
        assertEquals(0, in(0x61) & 0x20);
        assertEquals(1, latchedCount(2));
        m.time.advance(ticks(1000) - ticks(999));
        assertEquals(0x20, in(0x61) & 0x20, "OUT high at terminal count");
        assertEquals(0x01, in(0x61) & 0x03);
    }

    @Test
    void lowGatePausesCounter2() {
        out(0x43, 0xB0);
        out(0x42, 0x00);
        out(0x42, 0x10);
        m.time.advance(ticks(500));
        assertEquals(0x1000, latchedCount(2), "gate low from reset: not counting");
        out(0x61, 0x01);
        m.time.advance(ticks(500));
        assertEquals(0x1000 - 500, latchedCount(2));
        out(0x61, 0x00);
        m.time.advance(ticks(500));
        assertEquals(0x1000 - 500, latchedCount(2), "mode 0 holds its count while the gate is low");
    }

    @Test
    void liveReadsAlternateBytesAndLatchFreezesTheCount() {
        out(0x43, 0x34);
        out(0x40, 0x00);
        out(0x40, 0x00); // 65536
        m.time.advance(ticks(0x123));
        out(0x43, 0x00);
        m.time.advance(ticks(0x1000));
        int lo = in(0x40), hi = in(0x40);
        assertEquals(0x10000 - 0x123, lo | hi << 8, "the latched value, not the live one");
        int liveLo = in(0x40), liveHi = in(0x40);
        assertEquals(0x10000 - 0x123 - 0x1000, liveLo | liveHi << 8);
    }

    @Test
    void readBackLatchesStatusThenCount() {
        out(0x43, 0x36); // counter 0, LSB/MSB, mode 3
        out(0x40, 0x00);
        out(0x40, 0x01); // 256
        out(0x43, 0xC2); // read back count and status of counter 0
        int status = in(0x40);
        assertEquals(0x80 | 0x30 | (3 << 1), status, "OUT high, LSB/MSB, mode 3, binary");
        assertEquals(0x00, in(0x40));
        assertEquals(0x01, in(0x40));
    }

    @Test
    void mode3SquareWaveIsHighForTheFirstHalf() {
        out(0x61, 0x01);
        out(0x43, 0xB6); // counter 2, mode 3
        out(0x42, 100);
        out(0x42, 0);
        m.time.advance(ticks(10));
        assertEquals(0x20, in(0x61) & 0x20);
        assertEquals(80, latchedCount(2), "square wave counts by two");
        m.time.advance(ticks(60) - ticks(10));
        assertEquals(0, in(0x61) & 0x20);
    }

    @Test
    void tickConversionRoundTrips() {
        for (long t : new long[] {1, 1193, 1_193_182, 10_000_000_000L}) {
            assertEquals(t, PitChannel.nanosToTicks(PitChannel.ticksToNanos(t)), "the tick has happened");
            assertEquals(t - 1, PitChannel.nanosToTicks(PitChannel.ticksToNanos(t) - 1), "not a nanosecond before");
        }
    }
}
