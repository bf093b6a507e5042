package dev.flint.devices.virtio;

import dev.flint.machine.GuestMemory;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * VIRTIO_F_EVENT_IDX on the split ring: the device names the available index it wants a notification at
 * (avail_event, after the used ring) and interrupts only when the used index passes the driver's used_event
 * (after the available ring); the rings' flags no longer count.
 */
class VirtqueueEventIdxTest {
    private static final int SIZE = 8;
    private static final long DESC = 0x1000, AVAIL = 0x2000, USED = 0x3000, BUFFER = 0x10000;
    private static final long USED_EVENT = AVAIL + 4 + 2 * SIZE, AVAIL_EVENT = USED + 4 + 8 * SIZE;

    private static Virtqueue ring(boolean eventIdx) {
        Virtqueue q = new Virtqueue(SIZE);
        q.setDescTable(DESC);
        q.setAvailRing(AVAIL);
        q.setUsedRing(USED);
        q.enable();
        q.useEventIdx(eventIdx);
        return q;
    }

    /** Publishes a one-buffer chain at descriptor {@code n % SIZE} as available entry {@code n}. */
    private static void publish(GuestMemory memory, int n) {
        long d = DESC + 16L * (n % SIZE);
        memory.writeLong(d, BUFFER);
        memory.writeInt(d + 8, 512);
        memory.writeShort(d + 12, (short) Virtqueue.F_WRITE);
        memory.writeShort(AVAIL + 4 + 2L * (n % SIZE), (short) (n % SIZE));
        memory.writeShort(AVAIL + 2, (short) (n + 1));
    }

    @Test
    void theUsedIndexPassesAnEventOnlyWhenItMovesOverIt() {
        assertTrue(Virtqueue.passes(5, 6, 5), "entry 5 written");
        assertTrue(Virtqueue.passes(5, 9, 2), "a batch over it");
        assertFalse(Virtqueue.passes(5, 5, 3), "up to, not over");
        assertFalse(Virtqueue.passes(5, 8, 6), "already passed before this batch");
        assertFalse(Virtqueue.passes(5, 6, 6), "no movement");
        assertTrue(Virtqueue.passes(0xFFFF, 1, 0xFFFE), "across the 16-bit wrap");
        assertTrue(Virtqueue.passes(0, 2, 0xFFFF), "the event just after the wrap");
        assertFalse(Virtqueue.passes(3, 2, 0xFFFF), "beyond the batch after the wrap");
    }

    @Test
    void anEmptyRingAsksForANotificationAtTheNextEntryAndLooksAgain() {
        try (GuestMemory memory = GuestMemory.allocate(1 << 20)) {
            Virtqueue q = ring(true);
            memory.writeShort(AVAIL_EVENT, (short) 0x7777);
            assertNull(q.pop(memory, false));
            assertEquals(0, memory.readShort(AVAIL_EVENT), "notify me at entry 0");
            publish(memory, 0);
            publish(memory, 1);
            assertNotNull(q.pop(memory, false));
            assertEquals(0, memory.readShort(AVAIL_EVENT), "not rewritten while entries are pending");
            assertNotNull(q.pop(memory, false));
            assertNull(q.pop(memory, false));
            assertEquals(2, memory.readShort(AVAIL_EVENT), "notify me at entry 2, the next one");

            Virtqueue plain = ring(false);
            memory.writeShort(AVAIL_EVENT, (short) 0x7777);
            plain.resumeAt(2, 0);
            assertNull(plain.pop(memory, false));
            assertEquals(0x7777, memory.readShort(AVAIL_EVENT) & 0xFFFF, "without event-idx the field is not the device's");
        }
    }

    @Test
    void interruptsFollowUsedEventAndIgnoreTheNoInterruptFlag() {
        try (GuestMemory memory = GuestMemory.allocate(1 << 20)) {
            Virtqueue q = ring(true);
            memory.writeShort(USED_EVENT, (short) 100);
            complete(memory, q, 1);
            assertTrue(q.interruptWanted(memory), "the first decision after negotiation always interrupts");

            memory.writeShort(USED_EVENT, (short) 3); // "interrupt me once entry 3 is used"
            complete(memory, q, 2); // used 1 -> 3
            assertFalse(q.interruptWanted(memory));
            complete(memory, q, 2); // 3 -> 5: passes 3
            assertTrue(q.interruptWanted(memory));
            complete(memory, q, 1); // 5 -> 6: 3 was passed before
            assertFalse(q.interruptWanted(memory));

            memory.writeShort(AVAIL, (short) Virtqueue.AVAIL_F_NO_INTERRUPT); // not the driver's switch any more
            memory.writeShort(USED_EVENT, (short) 6);
            complete(memory, q, 1);
            assertTrue(q.interruptWanted(memory));

            Virtqueue plain = ring(false); // the flag decides without event-idx
            complete(memory, plain, 1);
            assertFalse(plain.interruptWanted(memory));
            memory.writeShort(AVAIL, (short) 0);
            assertTrue(plain.interruptWanted(memory));
        }
    }

    @Test
    void usedEventWrapsWithTheSixteenBitIndex() {
        try (GuestMemory memory = GuestMemory.allocate(1 << 20)) {
            Virtqueue q = ring(true);
            q.resumeAt(0xFFFD, 0xFFFD);
            complete(memory, q, 1); // 0xFFFD -> 0xFFFE: the first decision
            assertTrue(q.interruptWanted(memory));
            memory.writeShort(USED_EVENT, (short) 0);
            complete(memory, q, 1); // -> 0xFFFF
            assertFalse(q.interruptWanted(memory));
            complete(memory, q, 2); // -> 1: passes 0
            assertTrue(q.interruptWanted(memory));
            assertEquals(1, memory.readShort(USED + 2));
        }
    }

    private static void complete(GuestMemory memory, Virtqueue q, int chains) {
        for (int i = 0; i < chains; i++) q.addUsed(memory, 0, 512);
        q.publishUsed(memory);
    }
}
