package dev.flint.devices;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The benchmarks' stand-in for KVM's halt polling adapts its window as KVM does (HaltPolling). */
class HaltPollingTest {

    @Test
    void aDeviceThatAnswersWithin200MicrosecondsIsSoonMetByPolling() {
        long w = 0;
        long[] expected = {10_000, 20_000, 40_000, 80_000, 80_000, 80_000};
        for (long want : expected) {
            w = HaltPolling.next(w, 60_000); // 60 µs halts: grows until the window covers them, then stays
            assertEquals(want, w);
        }
    }

    @Test
    void theWindowGrowsNoFurtherThan200Microseconds() {
        long w = 160_000;
        w = HaltPolling.next(w, 190_000);
        assertEquals(200_000, w);
        assertEquals(200_000, HaltPolling.next(w, 199_000), "a halt inside the window leaves it");
    }

    @Test
    void aHaltLongerThanTheMaximumResetsTheWindowAndLongHaltsKeepItShut() {
        long w = HaltPolling.next(200_000, 362_000); // a batch of 1 MiB reads takes longer than any window
        assertEquals(0, w);
        assertEquals(0, HaltPolling.next(w, 362_000), "no polling while the device keeps taking longer than 200 µs");
        assertEquals(10_000, HaltPolling.next(w, 50_000), "a short halt starts it again at 10 µs");
    }

    @Test
    void aFixedWindowNeverChangesAndAnAdaptiveOneStartsAtZero() throws Exception {
        RecordingInterrupts irq = new RecordingInterrupts();
        HaltPolling fixed = HaltPolling.fixed(50_000);
        fixed.halt(irq, irq.signals(), 1_000_000); // no interrupt comes: polls, sleeps, times out
        assertEquals(50_000, fixed.window());
        HaltPolling adaptive = HaltPolling.adaptive();
        assertEquals(0, adaptive.window());
        irq.sendMsi(0xFEE0_0000L, 0x41); // already there: the halt returns at once
        adaptive.halt(irq, irq.signals() - 1, 1_000_000);
        assertEquals(10_000, adaptive.window(), "a halt that found its interrupt at once was short: the window opens at 10 µs");
        assertThrows(IllegalArgumentException.class, () -> HaltPolling.fixed(-1));
    }
}
