package dev.flint.devices.virtio;

import dev.flint.machine.GuestMemory;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The walk into the queue's reused {@link ChainView} (the transport's allocation-free path): one view serves chain
 * after chain of different shapes, each read exactly as {@link Virtqueue#pop} reads it, with nothing of the chain
 * before left in it; a long chain grows it; a broken chain is still refused.
 */
class VirtqueueViewTest {
    private static final long DESC = 0x1000, AVAIL = 0x2000, USED = 0x3000, DATA = 0x100000;

    private static Virtqueue ring() {
        Virtqueue q = new Virtqueue(64);
        q.setDescTable(DESC);
        q.setAvailRing(AVAIL);
        q.setUsedRing(USED);
        q.enable();
        return q;
    }

    /** Writes descriptors [first, first + lengths.length) as one chain; the last {@code writable} are device-writable. */
    private static void chain(GuestMemory memory, int first, int[] lengths, int writable) {
        for (int i = 0; i < lengths.length; i++) {
            long d = DESC + 16L * (first + i);
            boolean last = i == lengths.length - 1;
            memory.writeLong(d, DATA + 0x10000L * (first + i));
            memory.writeInt(d + 8, lengths[i]);
            int flags = (i >= lengths.length - writable ? Virtqueue.F_WRITE : 0) | (last ? 0 : Virtqueue.F_NEXT);
            memory.writeShort(d + 12, (short) flags);
            memory.writeShort(d + 14, (short) (first + i + 1));
        }
    }

    private static void publish(GuestMemory memory, int slot, int head) {
        memory.writeShort(AVAIL + 4 + 2L * slot, (short) head);
        memory.writeShort(AVAIL + 2, (short) (slot + 1));
    }

    /** The view holds exactly the chain {@link #chain} wrote at {@code head}, and {@code popped} says the same. */
    private static void assertChain(int head, int[] lengths, int writable, ChainView view, DescriptorChain popped) {
        assertEquals(head, view.head());
        assertEquals(lengths.length, view.count());
        assertEquals(lengths.length - writable, view.firstWritable());
        for (int i = 0; i < lengths.length; i++) {
            assertEquals(DATA + 0x10000L * (head + i), view.address(i), "address " + i);
            assertEquals(lengths[i], view.length(i), "length " + i);
            assertEquals(i >= lengths.length - writable, view.writable(i), "direction " + i);
        }
        assertEquals(popped, view.toChain());
    }

    @Test
    void oneViewServesChainsOfEveryShapeAsPopReadsThem() {
        try (GuestMemory memory = GuestMemory.allocate(8 << 20)) {
            int[][] lengths = {{16, 12 * 4096, 1}, {16, 512, 512, 512, 512, 512, 512, 512, 512, 512, 512, 1}, {16, 1}, {16, 4096}, {4}, {16, 8, 1}};
            int[] writable = {1, 1, 1, 0, 1, 2};
            int[] heads = {0, 3, 20, 30, 40, 50};
            for (int c = 0; c < lengths.length; c++) chain(memory, heads[c], lengths[c], writable[c]);

            Virtqueue popped = ring(), viewed = ring();
            ChainView view = viewed.view();
            for (int c = 0; c < lengths.length; c++) {
                publish(memory, c, heads[c]);
                DescriptorChain chain = popped.pop(memory, false);
                assertTrue(viewed.popInto(memory, false, view), "chain " + c);
                assertChain(heads[c], lengths[c], writable[c], view, chain);
            }
            assertFalse(viewed.popInto(memory, false, view), "nothing more published");
            assertEquals(3, view.count(), "the view still holds the last chain");
        }
    }

    @Test
    void aChainWithEveryBufferReadableHasNoWritableOne() {
        try (GuestMemory memory = GuestMemory.allocate(8 << 20)) {
            chain(memory, 0, new int[] {16, 4096, 4096}, 0);
            publish(memory, 0, 0);
            Virtqueue q = ring();
            assertTrue(q.popInto(memory, false, q.view()));
            assertEquals(3, q.view().firstWritable());
            for (int i = 0; i < 3; i++) assertFalse(q.view().writable(i));
        }
    }

    @Test
    void theRecordIsACopyThatOutlivesTheNextWalk() {
        try (GuestMemory memory = GuestMemory.allocate(8 << 20)) {
            chain(memory, 0, new int[] {16, 4096, 1}, 2);
            chain(memory, 5, new int[] {16, 1}, 1);
            publish(memory, 0, 0);
            Virtqueue q = ring();
            assertTrue(q.popInto(memory, false, q.view()));
            DescriptorChain kept = q.view().toChain();
            publish(memory, 1, 5);
            assertTrue(q.popInto(memory, false, q.view()));
            assertEquals(0, kept.head());
            assertEquals(3, kept.buffers().size());
            assertEquals(4096, kept.buffers().get(1).length());
            assertNotSame(kept, q.view().toChain());
        }
    }

    @Test
    void aReadableBufferAfterAWritableOneIsStillRefused() {
        try (GuestMemory memory = GuestMemory.allocate(8 << 20)) {
            chain(memory, 0, new int[] {16, 512, 1}, 2);
            memory.writeShort(DESC + 16 * 2 + 12, (short) 0); // the status descriptor made device-readable
            publish(memory, 0, 0);
            Virtqueue q = ring();
            assertThrows(VirtqueueException.class, () -> q.popInto(memory, false, q.view()));
        }
    }
}
