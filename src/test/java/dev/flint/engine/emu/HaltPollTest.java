package dev.flint.engine.emu;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The adaptive halt-polling window of one vCPU (KVM's halt_poll_ns rules). */
class HaltPollTest {
    private static final long MAX = 200_000;

    @Test
    void startsClosedAndGrowsAfterShortParkedHalts() {
        HaltPoll p = new HaltPoll(MAX, 0);
        assertEquals(0, p.window(), "a fresh vCPU parks at once: an idle guest burns no host core");
        p.update(false, 50_000); // parked, woken after 50 µs: polling would have caught it
        assertEquals(HaltPoll.START_NANOS, p.window());
        for (int i = 0; i < 10; i++) p.update(false, 50_000);
        assertEquals(MAX, p.window(), "doubles up to the maximum, no further");
    }

    @Test
    void aHaltThatEndedWhilePollingKeepsTheWindow() {
        HaltPoll p = new HaltPoll(MAX, 40_000);
        p.update(true, 5_000);
        assertEquals(40_000, p.window());
    }

    @Test
    void longHaltsCloseTheWindow() {
        HaltPoll p = new HaltPoll(MAX, MAX);
        p.update(false, 5_000_000); // an idle guest: woken after 5 ms
        assertEquals(MAX / 2, p.window());
        for (int i = 0; i < 10; i++) p.update(false, 5_000_000);
        assertEquals(0, p.window(), "an idle guest stops polling after a few long halts");
    }

    @Test
    void aMaximumOfZeroTurnsPollingOff() {
        HaltPoll p = new HaltPoll(0, 1_000_000);
        assertEquals(0, p.window());
        p.update(false, 1_000);
        assertEquals(0, p.window());
    }
}
