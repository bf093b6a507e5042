package dev.flint.engine.emu.irq;

/**
 * One 8254 counter, computed from host time instead of ticking: the count and the OUT pin at any
 * instant follow from when counting started, so an idle PIT costs nothing. Handles the six counter
 * modes, the gate input, LSB/MSB access, counter latch and status latch. Not thread-safe: guarded by
 * the owning {@link Pit8254}.
 */
final class PitChannel {
    /** Input clock of the PC's 8254. */
    static final long FREQUENCY_HZ = 1_193_182;
    static final long NO_EDGE = Long.MAX_VALUE;

    private static final long NANOS_PER_SECOND = 1_000_000_000L;
    private static final int RW_LSB = 1, RW_MSB = 2, RW_WORD = 3;

    private int mode;
    private int access = RW_WORD;
    private boolean bcd;
    /** Count register value; 0 means 65536. */
    private long reload = 0x10000;
    private boolean loaded;
    private boolean gate;
    private boolean counting;
    /** Ticks counted before the current run (a gate pause keeps them in modes 0 and 4). */
    private long ticksBefore;
    private long startNanos;
    private boolean nullCount = true;

    private boolean writeMsbNext;
    private int writeLsb;
    private boolean readMsbNext;
    private int latchedCount = -1;
    private boolean latchedMsbNext;
    private int latchedStatus = -1;

    PitChannel(boolean gate) { this.gate = gate; }

    void save(dev.flint.machine.state.StateWriter.Section out) {
        out.putInts(new int[] {mode, access, writeLsb, latchedCount, latchedStatus}).putLong(reload).putLong(ticksBefore)
                .putLong(startNanos);
        out.putBoolean(bcd).putBoolean(loaded).putBoolean(gate).putBoolean(counting).putBoolean(nullCount)
                .putBoolean(writeMsbNext).putBoolean(readMsbNext).putBoolean(latchedMsbNext);
    }

    void restore(dev.flint.machine.state.StateReader.Section in) {
        int[] r = in.getInts(5);
        mode = r[0] & 7; access = r[1]; writeLsb = r[2]; latchedCount = r[3]; latchedStatus = r[4];
        reload = in.getLong();
        if (reload < 1 || reload > 0x10000) throw new dev.flint.machine.state.SnapshotException("PIT reload value " + reload);
        ticksBefore = in.getLong();
        startNanos = in.getLong();
        bcd = in.getBoolean();
        loaded = in.getBoolean();
        gate = in.getBoolean();
        counting = in.getBoolean();
        nullCount = in.getBoolean();
        writeMsbNext = in.getBoolean();
        readMsbNext = in.getBoolean();
        latchedMsbNext = in.getBoolean();
    }

    // ---- Time arithmetic ----

    static long nanosToTicks(long nanos) {
        return nanos / NANOS_PER_SECOND * FREQUENCY_HZ + nanos % NANOS_PER_SECOND * FREQUENCY_HZ / NANOS_PER_SECOND;
    }

    /** The first instant (relative) at which {@code ticks} ticks have elapsed. */
    static long ticksToNanos(long ticks) {
        long rest = ticks % FREQUENCY_HZ * NANOS_PER_SECOND;
        return ticks / FREQUENCY_HZ * NANOS_PER_SECOND + (rest + FREQUENCY_HZ - 1) / FREQUENCY_HZ;
    }

    private long ticks(long now) {
        return counting ? ticksBefore + nanosToTicks(Math.max(0, now - startNanos)) : ticksBefore;
    }

    private boolean periodic() { return mode == 2 || mode == 3; }

    /** The counting element's value at {@code now}. */
    int count(long now) {
        if (!loaded) return 0;
        long t = ticks(now);
        return (int) switch (mode) {
            case 2 -> reload - t % reload;
            case 3 -> (reload - (2 * t) % reload) & 0xFFFE;
            default -> (reload - t) & 0xFFFF; // one-shot modes wrap and keep counting
        } & 0xFFFF;
    }

    /** Level of the OUT pin at {@code now}. */
    boolean out(long now) {
        if (!loaded) return mode != 0;
        long t = ticks(now);
        return switch (mode) {
            case 0 -> t >= reload;
            case 1 -> !counting || t >= reload;
            case 2 -> !counting || t % reload != reload - 1;
            case 3 -> !counting || t % reload < (reload + 1) / 2;
            default -> t != reload; // 4, 5: one low tick at terminal count
        };
    }

    /** Host nanos of the next rising edge of OUT after {@code now}, or {@link #NO_EDGE}. */
    long nextRisingEdge(long now) {
        if (!loaded || !counting) return NO_EDGE;
        long t = ticks(now);
        long edgeTick;
        if (periodic()) edgeTick = (t / reload + 1) * reload;
        else if (t < reload) edgeTick = mode == 0 || mode == 1 ? reload : reload + 1;
        else return NO_EDGE;
        return startNanos + ticksToNanos(edgeTick - ticksBefore);
    }

    // ---- Guest accesses ----

    /** A control word selecting this counter: rw = 0 latches the count, otherwise reprograms. */
    void control(int value, long now) {
        int rw = (value >>> 4) & 3;
        if (rw == 0) {
            latchCount(now);
            return;
        }
        access = rw;
        int m = (value >>> 1) & 7;
        mode = m > 5 ? m - 4 : m; // 6 and 7 alias modes 2 and 3
        bcd = (value & 1) != 0;
        loaded = false;
        counting = false;
        nullCount = true;
        writeMsbNext = readMsbNext = false;
    }

    void writeData(int value, long now) {
        value &= 0xFF;
        switch (access) {
            case RW_LSB -> load(value, now);
            case RW_MSB -> load(value << 8, now);
            default -> {
                if (!writeMsbNext) {
                    writeLsb = value;
                    writeMsbNext = true;
                } else {
                    writeMsbNext = false;
                    load(writeLsb | value << 8, now);
                }
            }
        }
    }

    int readData(long now) {
        if (latchedStatus >= 0) {
            int status = latchedStatus;
            latchedStatus = -1;
            return status;
        }
        if (latchedCount >= 0) {
            int value = latchedCount;
            boolean msb = access == RW_MSB || (access == RW_WORD && latchedMsbNext);
            if (access == RW_WORD && !latchedMsbNext) latchedMsbNext = true;
            else latchedCount = -1;
            return msb ? value >>> 8 : value & 0xFF;
        }
        int value = count(now);
        boolean msb = access == RW_MSB || (access == RW_WORD && readMsbNext);
        if (access == RW_WORD) readMsbNext = !readMsbNext;
        return msb ? value >>> 8 : value & 0xFF;
    }

    /** Counter latch: holds the count until it has been read (a second latch before that is ignored). */
    void latchCount(long now) {
        if (latchedCount >= 0) return;
        latchedCount = count(now);
        latchedMsbNext = false;
    }

    void latchStatus(long now) {
        if (latchedStatus >= 0) return;
        latchedStatus = (out(now) ? 0x80 : 0) | (nullCount ? 0x40 : 0) | access << 4 | mode << 1 | (bcd ? 1 : 0);
    }

    boolean gate() { return gate; }

    /** The gate input: low pauses counting; a rising edge restarts modes 1, 2, 3 and 5. */
    void setGate(boolean level, long now) {
        if (level == gate) return;
        gate = level;
        if (!loaded) return;
        if (!level) {
            if (mode != 1 && mode != 5) {
                ticksBefore = ticks(now);
                counting = false;
            }
        } else {
            if (mode != 0 && mode != 4) ticksBefore = 0;
            startNanos = now;
            counting = true;
        }
    }

    private void load(int value, long now) {
        reload = value == 0 ? 0x10000 : value;
        loaded = true;
        nullCount = false;
        ticksBefore = 0;
        startNanos = now;
        // Modes 1 and 5 wait for a gate edge (which only channel 2 can produce); the rest count now.
        counting = gate && mode != 1 && mode != 5;
    }
}
