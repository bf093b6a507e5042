package dev.flint.devices.legacy;

import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;

import static org.junit.jupiter.api.Assertions.*;

class CmosRtcTest {
    // Sunday 2026-11-22 21:07:09.5 UTC
    private final Clock clock = Clock.fixed(Instant.parse("2026-11-22T21:07:09.500Z"), ZoneOffset.UTC);
    private final CmosRtc rtc = new CmosRtc(clock);

    private int reg(int r) {
        rtc.write(0, 1, r | 0x80); // with the NMI-mask bit, which must not matter
        return (int) rtc.read(1, 1);
    }

    private void set(int r, int v) {
        rtc.write(0, 1, r);
        rtc.write(1, 1, v);
    }

    @Test
    void bcd24HourByDefault() {
        assertEquals(0x09, reg(CmosRtc.SECONDS));
        assertEquals(0x07, reg(CmosRtc.MINUTES));
        assertEquals(0x21, reg(CmosRtc.HOURS));
        assertEquals(0x01, reg(CmosRtc.WEEKDAY), "Sunday is 1");
        assertEquals(0x22, reg(CmosRtc.DAY));
        assertEquals(0x11, reg(CmosRtc.MONTH));
        assertEquals(0x26, reg(CmosRtc.YEAR));
        assertEquals(0x20, reg(0x32), "century");
        assertEquals(0x80, reg(CmosRtc.REG_D), "valid RAM and time");
        assertEquals(0, reg(CmosRtc.REG_A) & CmosRtc.A_UIP, "half a second before the update");
    }

    @Test
    void binaryAnd12HourModes() {
        set(CmosRtc.REG_B, CmosRtc.B_BINARY);
        assertEquals(9 | 0x80, reg(CmosRtc.HOURS), "9 PM");
        assertEquals(26, reg(CmosRtc.YEAR));
        assertEquals(22, reg(CmosRtc.DAY));
    }

    @Test
    void matchesTheHostClock() {
        CmosRtc live = new CmosRtc();
        for (int attempt = 0; attempt < 3; attempt++) {
            java.time.LocalDateTime before = java.time.LocalDateTime.now(ZoneOffset.UTC);
            live.write(0, 1, CmosRtc.MINUTES);
            int min = (int) live.read(1, 1);
            live.write(0, 1, CmosRtc.HOURS);
            int hour = (int) live.read(1, 1);
            if (before.getMinute() != java.time.LocalDateTime.now(ZoneOffset.UTC).getMinute()) continue; // a minute rolled over
            assertEquals(before.getMinute(), (min >> 4) * 10 + (min & 15));
            assertEquals(before.getHour(), (hour >> 4) * 10 + (hour & 15));
            return;
        }
        fail("the minute kept rolling over");
    }

    @Test
    void guestSetsTheClockWithTheSetBit() {
        set(CmosRtc.REG_B, CmosRtc.B_SET | CmosRtc.B_24H);
        set(CmosRtc.YEAR, 0x30);
        set(CmosRtc.HOURS, 0x08);
        set(CmosRtc.REG_B, CmosRtc.B_24H);
        assertEquals(0x30, reg(CmosRtc.YEAR));
        assertEquals(0x08, reg(CmosRtc.HOURS));
        assertEquals(0x07, reg(CmosRtc.MINUTES), "untouched fields keep running from the frozen time");
    }

    @Test
    void uipIsSetJustBeforeTheSecondChanges() {
        CmosRtc late = new CmosRtc(Clock.fixed(Instant.parse("2026-11-22T21:07:09.999900Z"), ZoneOffset.UTC));
        late.write(0, 1, CmosRtc.REG_A);
        assertEquals(CmosRtc.A_UIP, late.read(1, 1) & CmosRtc.A_UIP);
    }

    @Test
    void cmosRamKeepsWhatTheGuestWrites() {
        set(0x40, 0xAB);
        assertEquals(0xAB, reg(0x40));
        set(0x01, 0x30);
        assertEquals(0x30, reg(0x01), "alarm seconds is plain storage");
    }
}
