package dev.flint.devices.legacy;

import dev.flint.arch.x86.Layout;
import dev.flint.machine.bus.BusDevice;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;

/**
 * The MC146818-compatible CMOS RTC and its 128 bytes of CMOS RAM at ports 0x70 (index; bit 7 is the
 * NMI mask, which Flint ignores) and 0x71 (data).
 *
 * <p>Time registers read the host clock (UTC, as Linux expects of a VM's RTC) plus an offset the guest
 * sets by writing the time with register B's SET bit; they follow register B's BCD/binary and 12/24-hour
 * modes. Register A's update-in-progress bit is set during the last 244 µs of each second, like the chip
 * before it updates. Alarm, periodic and update-ended interrupts are not implemented (register C stays
 * 0 and the DSDT announces no IRQ for the RTC).
 */
public final class CmosRtc implements BusDevice {
    static final int SECONDS = 0x00, MINUTES = 0x02, HOURS = 0x04, WEEKDAY = 0x06, DAY = 0x07, MONTH = 0x08,
            YEAR = 0x09, REG_A = 0x0A, REG_B = 0x0B, REG_C = 0x0C, REG_D = 0x0D;
    static final int A_UIP = 0x80, A_DIVIDER_32K = 0x20, A_RATE_1024HZ = 0x06;
    static final int B_SET = 0x80, B_BINARY = 0x04, B_24H = 0x02;
    static final int D_VALID_RAM = 0x80;
    /** The chip raises UIP this long before the seconds register changes. */
    private static final long UIP_NANOS = 244_000;

    private final Clock clock;
    private final byte[] ram = new byte[128];
    private int index;
    /** Guest time minus host time, from the last time the guest set the clock. */
    private Duration offset = Duration.ZERO;

    public CmosRtc(Clock clock) {
        this.clock = clock;
        ram[REG_A] = A_DIVIDER_32K | A_RATE_1024HZ;
        ram[REG_B] = B_24H;
        ram[REG_D] = (byte) D_VALID_RAM;
        ram[0x15] = (byte) 0x80; // base memory 640 KiB, low byte first
        ram[0x16] = 0x02;
    }

    public CmosRtc() {
        this(Clock.systemUTC());
    }

    /**
     * Snapshot: CMOS RAM, the index, and the guest's offset from host time. The clock registers are
     * computed from host time, so a restored guest's RTC reads the real time again (plus its own offset).
     */
    public synchronized void save(dev.flint.machine.state.StateWriter.Section out) {
        out.putBytes(ram).putInt(index).putLong(offset.getSeconds()).putInt(offset.getNano());
    }

    public synchronized void restore(dev.flint.machine.state.StateReader.Section in) {
        System.arraycopy(in.getBytes(ram.length), 0, ram, 0, ram.length);
        index = in.getInt() & 0x7F;
        offset = Duration.ofSeconds(in.getLong(), in.getInt());
        in.end();
    }

    @Override
    public synchronized long read(long offset, int size) {
        if (offset == 0) return 0xFF; // the index register is write-only
        return readRegister(index) & 0xFF;
    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        if (offset == 0) index = (int) value & 0x7F; // bit 7 masks NMIs on a PC: nothing to mask here
        else writeRegister(index, (int) value & 0xFF);
    }

    private int readRegister(int reg) {
        int b = ram[REG_B] & 0xFF;
        if (isTimeField(reg) && (b & B_SET) == 0) return timeField(reg, guestNow(), b);
        if (reg == REG_A) {
            boolean uip = (b & B_SET) == 0 && guestNow().getNano() >= 1_000_000_000L - UIP_NANOS;
            return (ram[REG_A] & 0x7F) | (uip ? A_UIP : 0);
        }
        if (reg == Layout.RTC_CENTURY_INDEX && (b & B_SET) == 0) return encode(guestNow().getYear() / 100, b);
        if (reg == REG_C) return 0;
        return ram[reg] & 0xFF;
    }

    private void writeRegister(int reg, int v) {
        switch (reg) {
            case REG_A -> ram[REG_A] = (byte) (v & 0x7F); // UIP is read-only
            case REG_B -> {
                boolean wasSet = (ram[REG_B] & B_SET) != 0;
                if ((v & B_SET) != 0 && !wasSet) freeze();
                ram[REG_B] = (byte) v;
                if ((v & B_SET) == 0 && wasSet) adoptGuestTime();
            }
            case REG_C, REG_D -> { } // read-only
            default -> ram[reg] = (byte) v;
        }
    }

    private LocalDateTime guestNow() {
        return LocalDateTime.ofInstant(Instant.now(clock).plus(offset), ZoneOffset.UTC);
    }

    /** SET stops updates: the time registers hold the current time until the guest rewrites them. */
    private void freeze() {
        LocalDateTime now = guestNow();
        int b = ram[REG_B] & 0xFF;
        for (int reg : new int[] {SECONDS, MINUTES, HOURS, WEEKDAY, DAY, MONTH, YEAR}) {
            ram[reg] = (byte) timeField(reg, now, b);
        }
        ram[Layout.RTC_CENTURY_INDEX] = (byte) encode(now.getYear() / 100, b);
    }

    /** SET cleared: what the guest wrote becomes the clock (when it is a valid date; else it is ignored). */
    private void adoptGuestTime() {
        int b = ram[REG_B] & 0xFF;
        try {
            int hourRaw = ram[HOURS] & 0xFF;
            int hour = decode(hourRaw & 0x7F, b);
            if ((b & B_24H) == 0) hour = (hour % 12) + ((hourRaw & 0x80) != 0 ? 12 : 0);
            int year = decode(ram[Layout.RTC_CENTURY_INDEX] & 0xFF, b) * 100 + decode(ram[YEAR] & 0xFF, b);
            LocalDateTime set = LocalDateTime.of(year, decode(ram[MONTH] & 0xFF, b), decode(ram[DAY] & 0xFF, b),
                    hour, decode(ram[MINUTES] & 0xFF, b), decode(ram[SECONDS] & 0xFF, b));
            offset = Duration.between(Instant.now(clock), set.toInstant(ZoneOffset.UTC));
        } catch (java.time.DateTimeException e) {
            // A nonsense date from the guest leaves the clock as it was.
        }
    }

    private static boolean isTimeField(int reg) {
        return reg <= YEAR && reg != 0x01 && reg != 0x03 && reg != 0x05; // 1, 3, 5 are the alarm registers
    }

    private static int timeField(int reg, LocalDateTime t, int b) {
        return switch (reg) {
            case SECONDS -> encode(t.getSecond(), b);
            case MINUTES -> encode(t.getMinute(), b);
            case HOURS -> {
                if ((b & B_24H) != 0) yield encode(t.getHour(), b);
                int h12 = t.getHour() % 12 == 0 ? 12 : t.getHour() % 12;
                yield encode(h12, b) | (t.getHour() >= 12 ? 0x80 : 0);
            }
            case WEEKDAY -> encode(t.getDayOfWeek().getValue() % 7 + 1, b); // Sunday = 1
            case DAY -> encode(t.getDayOfMonth(), b);
            case MONTH -> encode(t.getMonthValue(), b);
            case YEAR -> encode(t.getYear() % 100, b);
            default -> 0; // alarm registers are not time fields
        };
    }

    private static int encode(int v, int regB) {
        return (regB & B_BINARY) != 0 ? v : (v / 10) << 4 | (v % 10);
    }

    private static int decode(int v, int regB) {
        return (regB & B_BINARY) != 0 ? v : (v >> 4) * 10 + (v & 0xF);
    }
}
