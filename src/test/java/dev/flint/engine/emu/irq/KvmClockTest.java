package dev.flint.engine.emu.irq;

import static org.junit.jupiter.api.Assertions.*;

import dev.flint.machine.GuestMemory;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class KvmClockTest {
    private static final long WALL_AT_TSC_ZERO = 1_700_000_000_123_456_789L;

    private final ManualTime time = new ManualTime();
    private final GuestMemory memory = GuestMemory.allocate(1 << 20);
    private final KvmClock kvmClock = new KvmClock(memory, time.clock, WALL_AT_TSC_ZERO);

    @AfterEach
    void free() { memory.close(); }

    /** What Linux's pvclock reader computes from the structure at {@code gpa} for TSC value {@code tsc}. */
    private long guestNanos(long gpa, long tsc) {
        long delta = tsc - memory.readLong(gpa + 8);
        int shift = memory.readByte(gpa + 28);
        delta = shift >= 0 ? delta << shift : delta >>> -shift;
        long mul = Integer.toUnsignedLong(memory.readInt(gpa + 24));
        // (delta * mul) >> 32 over the full 96-bit product, as pvclock_scale_delta does
        long scaled = Math.unsignedMultiplyHigh(delta, mul) << 32 | (delta * mul) >>> 32;
        return memory.readLong(gpa + 16) + scaled;
    }

    @Test
    void timeInfoTurnsTscTicksIntoNanosecondsOneToOne() {
        time.advance(123_456);
        assertTrue(kvmClock.writeMsr(KvmClock.MSR_SYSTEM_TIME_NEW, 0x2000 | 1));
        assertEquals(0x2001L, kvmClock.readMsr(KvmClock.MSR_SYSTEM_TIME_NEW));
        assertEquals(0, memory.readInt(0x2000) & 1, "version even: update complete");
        assertNotEquals(0, memory.readInt(0x2000), "version moved");
        assertEquals(1, memory.readByte(0x2000 + 29) & 1, "PVCLOCK_TSC_STABLE_BIT");
        for (long later : new long[] {0, 1, 999_999_937L, 3_600_000_000_000L}) {
            long tsc = time.clock.tsc() + later;
            assertEquals(tsc, guestNanos(0x2000, tsc));
        }
    }

    @Test
    void wallClockIsTheTimeOfDayAtTscZero() {
        assertTrue(kvmClock.writeMsr(KvmClock.MSR_WALL_CLOCK_NEW, 0x3000));
        assertEquals(1_700_000_000, memory.readInt(0x3004));
        assertEquals(123_456_789, memory.readInt(0x3008));
        assertEquals(0, memory.readInt(0x3000) & 1);
    }

    @Test
    void addressesOutsideRamAreIgnoredNotFatal() {
        assertTrue(kvmClock.writeMsr(KvmClock.MSR_SYSTEM_TIME_NEW, 0xFEE0_0001L));
        assertTrue(kvmClock.writeMsr(KvmClock.MSR_WALL_CLOCK_NEW, (1 << 20) - 4));
        assertNull(kvmClock.readMsr(0x12), "the legacy MSRs are not offered");
        assertFalse(kvmClock.writeMsr(0x11, 0));
    }

    @Test
    void cpuidCarriesTheKvmSignatureAndOnlyImplementedFeatures() {
        int[] sig = KvmClock.cpuidLeaf(0x4000_0000);
        ByteBuffer b = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putInt(sig[1]).putInt(sig[2]).putInt(sig[3]);
        assertEquals("KVMKVMKVM\0\0\0", new String(b.array(), StandardCharsets.US_ASCII));
        assertEquals(0x4000_0001, sig[0]);
        assertArrayEquals(new int[] {(1 << 3) | (1 << 24), 0, 0, 0}, KvmClock.cpuidLeaf(0x4000_0001));
        assertNull(KvmClock.cpuidLeaf(0x4000_0002));
    }
}
