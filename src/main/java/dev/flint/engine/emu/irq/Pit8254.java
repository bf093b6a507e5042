package dev.flint.engine.emu.irq;

import dev.flint.engine.emu.GuestClock;
import dev.flint.machine.bus.BusDevice;

/**
 * The 8254 programmable interval timer at ports 0x40-0x43, plus the PC's system control port B (0x61)
 * that gates counter 2 and reads back its OUT pin (Linux's PIT calibration loop and the speaker use it).
 *
 * <p>Counter 0's OUT drives ISA IRQ 0: on each rising edge the PIT pulses it through {@code irq0}. No
 * thread ticks the counters: the next edge is armed on the machine's {@link TimerScheduler}, and
 * counts and OUT levels are computed from the clock when read. If the host falls behind by several
 * periods, one interrupt is delivered and the rest are dropped (Linux keeps time from the TSC anyway).
 */
public final class Pit8254 {
    public static final int PORT = 0x40;
    public static final int SYSTEM_CONTROL_PORT = 0x61;

    private final GuestClock clock;
    private final TimerScheduler scheduler;
    private final Runnable irq0;
    // Counters 0 and 1 have their gates tied high; counter 2's gate is port 0x61 bit 0.
    private final PitChannel[] channels = {new PitChannel(true), new PitChannel(true), new PitChannel(false)};
    private int systemControl;
    private TimerScheduler.Timer armed;
    private long generation;

    public Pit8254(GuestClock clock, TimerScheduler scheduler, Runnable irq0) {
        this.clock = clock;
        this.scheduler = scheduler;
        this.irq0 = irq0;
    }

    /** Snapshot: the three counters and port 0x61; counter 0's interrupt is re-armed on restore. */
    public synchronized void save(dev.flint.machine.state.StateWriter.Section out) {
        for (PitChannel c : channels) c.save(out);
        out.putInt(systemControl);
    }

    public synchronized void restore(dev.flint.machine.state.StateReader.Section in) {
        for (PitChannel c : channels) c.restore(in);
        systemControl = in.getInt() & 0x0F;
        in.end();
        armCounter0(clock.nanos());
    }

    /** Ports 0x40-0x43 (register with length 4). */
    public BusDevice ports() {
        return new BusDevice() {
            @Override
            public long read(long offset, int size) {
                synchronized (Pit8254.this) {
                    return offset < 3 ? channels[(int) offset].readData(clock.nanos()) : 0xFF;
                }
            }

            @Override
            public void write(long offset, int size, long value) {
                synchronized (Pit8254.this) {
                    long now = clock.nanos();
                    if (offset < 3) channels[(int) offset].writeData((int) value, now);
                    else writeControl((int) value & 0xFF, now);
                    if (offset == 0 || offset == 3) armCounter0(now);
                }
            }
        };
    }

    /**
     * Port 0x61 (register with length 1): bit 0 gates counter 2, bit 1 enables the speaker, bits 2-3
     * are stored; reads add the refresh toggle (bit 4, about every 15 µs) and counter 2's OUT (bit 5).
     */
    public BusDevice systemControlPort() {
        return new BusDevice() {
            @Override
            public long read(long offset, int size) {
                synchronized (Pit8254.this) {
                    long now = clock.nanos();
                    int refresh = (int) (now / 15_085 & 1);
                    return systemControl | refresh << 4 | (channels[2].out(now) ? 1 << 5 : 0);
                }
            }

            @Override
            public void write(long offset, int size, long value) {
                synchronized (Pit8254.this) {
                    systemControl = (int) value & 0x0F;
                    channels[2].setGate((value & 1) != 0, clock.nanos());
                }
            }
        };
    }

    private void writeControl(int value, long now) {
        int select = value >>> 6;
        if (select < 3) {
            channels[select].control(value, now);
            return;
        }
        // Read-back: bits 3:1 select counters; bit 5 clear latches counts, bit 4 clear latches status.
        for (int i = 0; i < 3; i++) {
            if ((value & (2 << i)) == 0) continue;
            if ((value & 0x20) == 0) channels[i].latchCount(now);
            if ((value & 0x10) == 0) channels[i].latchStatus(now);
        }
    }

    /** Schedules IRQ 0 for counter 0's next rising OUT edge (replacing any earlier arming). */
    private void armCounter0(long now) {
        if (armed != null) armed.cancel();
        armed = null;
        long edge = channels[0].nextRisingEdge(now);
        if (edge == PitChannel.NO_EDGE) return;
        long token = ++generation;
        armed = scheduler.schedule(edge, () -> onCounter0Edge(token, edge));
    }

    private void onCounter0Edge(long token, long edge) {
        long now;
        synchronized (this) {
            if (token != generation) return;
            now = clock.nanos();
            armCounter0(now);
        }
        if (now >= edge) irq0.run();
    }
}
