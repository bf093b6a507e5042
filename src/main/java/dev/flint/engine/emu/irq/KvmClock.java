package dev.flint.engine.emu.irq;

import dev.flint.engine.emu.GuestClock;
import dev.flint.machine.GuestMemory;
import java.time.Instant;

/**
 * KVM's paravirtual clock ("kvmclock") for one vCPU: how a Linux guest learns the TSC frequency and the
 * time of day without calibrating anything.
 *
 * <p>The guest finds the KVM signature at CPUID 0x40000000 and the CLOCKSOURCE2 feature at 0x40000001
 * ({@link #cpuidLeaf}), then writes the guest-physical address of a {@code pvclock_vcpu_time_info} to
 * MSR 0x4b564d01 (bit 0 enables). That structure (32 bytes: version u32, pad u32, tsc_timestamp u64,
 * system_time u64, tsc_to_system_mul u32, tsc_shift s8, flags u8, pad) says how TSC ticks become
 * nanoseconds. The guest computes {@code system_time + ((tsc - tsc_timestamp) << shift) * mul >> 32}.
 * Flint's TSC runs at exactly 1 GHz and never drifts from host time, so one write at enable time stays
 * valid forever: mul 2^31 with shift 1 is the identity, and the TSC-stable flag tells Linux all vCPUs
 * agree. MSR 0x4b564d00 asks for a {@code pvclock_wall_clock} (version, sec, nsec u32): the time of day
 * at system time 0.
 *
 * <p>The structure is written once, so it stays correct only while the guest's TSC equals
 * {@link GuestClock#tsc()}; a core that lets the guest write IA32_TSC must rewrite it (write the MSR
 * value again).
 */
public final class KvmClock {
    private static final GuestFaultLog LOG = new GuestFaultLog(KvmClock.class);

    public static final int MSR_WALL_CLOCK_NEW = 0x4b56_4d00;
    public static final int MSR_SYSTEM_TIME_NEW = 0x4b56_4d01;

    /** CPUID 0x40000001 EAX: KVM_FEATURE_CLOCKSOURCE2 (bit 3) and KVM_FEATURE_CLOCKSOURCE_STABLE_BIT (bit 24). */
    static final int FEATURES = 1 << 3 | 1 << 24;
    private static final byte PVCLOCK_TSC_STABLE = 1;
    private static final int TIME_INFO_SIZE = 32;
    private static final int WALL_CLOCK_SIZE = 12;
    /** TSC at 1 GHz: ticks << 1 * 2^31 >> 32 = ticks nanoseconds. */
    private static final int TSC_TO_SYSTEM_MUL = 0x8000_0000;
    private static final byte TSC_SHIFT = 1;

    private final GuestMemory memory;
    private final GuestClock clock;
    private final long wallNanosAtTscZero;
    private long systemTimeMsr;
    private long wallClockMsr;

    /**
     * @param wallNanosAtTscZero time of day (nanoseconds since the Unix epoch) when the TSC was 0; one
     *                           value for the whole machine, from {@link #wallNanosAtTscZero(GuestClock)}
     */
    public KvmClock(GuestMemory memory, GuestClock clock, long wallNanosAtTscZero) {
        if (clock.tscHz() != 1_000_000_000L) throw new IllegalArgumentException("kvmclock scale assumes a 1 GHz TSC");
        this.memory = memory;
        this.clock = clock;
        this.wallNanosAtTscZero = wallNanosAtTscZero;
    }

    /** The host's time of day at TSC 0 of {@code clock}. */
    public static long wallNanosAtTscZero(GuestClock clock) {
        Instant now = Instant.now();
        return now.getEpochSecond() * 1_000_000_000L + now.getNano() - clock.tsc();
    }

    /**
     * CPUID leaves the core must return so Linux finds kvmclock: {eax, ebx, ecx, edx}, or null for other
     * leaves. 0x40000000: highest hypervisor leaf and the "KVMKVMKVM\0\0\0" signature; 0x40000001: the
     * feature bits this class implements and nothing else (no PV EOI, steal time, async PF...).
     */
    public static int[] cpuidLeaf(int leaf) {
        return switch (leaf) {
            case 0x4000_0000 -> new int[] {0x4000_0001, ascii("KVMK"), ascii("VMKV"), ascii("M\0\0\0")};
            case 0x4000_0001 -> new int[] {FEATURES, 0, 0, 0};
            default -> null;
        };
    }

    private static int ascii(String four) {
        int v = 0;
        for (int i = 3; i >= 0; i--) v = v << 8 | four.charAt(i);
        return v;
    }

    /** The kvmclock MSRs' values; null for any other MSR. */
    public synchronized Long readMsr(int index) {
        return switch (index) {
            case MSR_SYSTEM_TIME_NEW -> systemTimeMsr;
            case MSR_WALL_CLOCK_NEW -> wallClockMsr;
            default -> null;
        };
    }

    /** Handles a kvmclock MSR write; false if {@code index} is not one (the core raises #GP). */
    public synchronized boolean writeMsr(int index, long value) {
        switch (index) {
            case MSR_SYSTEM_TIME_NEW -> {
                systemTimeMsr = value;
                if ((value & 1) != 0) writeTimeInfo(value & ~1L);
                return true;
            }
            case MSR_WALL_CLOCK_NEW -> {
                wallClockMsr = value;
                writeWallClock(value);
                return true;
            }
            default -> {
                return false;
            }
        }
    }

    private void writeTimeInfo(long gpa) {
        if (!memory.isRam(gpa, TIME_INFO_SIZE)) {
            LOG.warn("time info", () -> String.format("kvmclock time info at 0x%x is not RAM; not written", gpa));
            return;
        }
        long tsc = clock.tsc();
        int version = beginUpdate(gpa);
        memory.writeInt(gpa + 4, 0);
        memory.writeLong(gpa + 8, tsc);
        memory.writeLong(gpa + 16, tsc); // system time counts nanoseconds from TSC 0
        memory.writeInt(gpa + 24, TSC_TO_SYSTEM_MUL);
        memory.writeByte(gpa + 28, TSC_SHIFT);
        memory.writeByte(gpa + 29, PVCLOCK_TSC_STABLE);
        memory.writeShort(gpa + 30, (short) 0);
        memory.writeInt(gpa, version + 1);
    }

    private void writeWallClock(long gpa) {
        if (!memory.isRam(gpa, WALL_CLOCK_SIZE)) {
            LOG.warn("wall clock", () -> String.format("kvmclock wall clock at 0x%x is not RAM; not written", gpa));
            return;
        }
        int version = beginUpdate(gpa);
        memory.writeInt(gpa + 4, (int) Math.floorDiv(wallNanosAtTscZero, 1_000_000_000L));
        memory.writeInt(gpa + 8, (int) Math.floorMod(wallNanosAtTscZero, 1_000_000_000L));
        memory.writeInt(gpa, version + 1);
    }

    /** Marks the structure at {@code gpa} as being updated (odd version) and returns that version. */
    private int beginUpdate(long gpa) {
        int odd = memory.readInt(gpa) | 1;
        memory.writeInt(gpa, odd);
        return odd;
    }
}
