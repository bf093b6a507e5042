package dev.flint.devices.virtio;

import dev.flint.machine.GuestMemory;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Indirect descriptor tables are bounded by the device's largest queue, not by the ring the driver chose:
 * Linux sizes a virtio-blk request by the device's seg_max (254 for Flint's model), so on a 128-entry ring
 * (QEMU's default for vhost-user-blk-pci) a 1 MiB O_DIRECT write arrives as one 256-entry table. Beyond the
 * device's maximum a table is still refused.
 */
class VirtqueueIndirectTest {
    private static final long DESC = 0x1000, AVAIL = 0x2000, USED = 0x3000, TABLE = 0x10000;

    private static Virtqueue ring(GuestMemory memory) {
        Virtqueue q = new Virtqueue(256);
        q.setSize(128);
        q.setDescTable(DESC);
        q.setAvailRing(AVAIL);
        q.setUsedRing(USED);
        q.enable();
        return q;
    }

    /** Publishes one chain: descriptor 0 points at an indirect table of {@code entries} chained buffers. */
    private static void publishIndirect(GuestMemory memory, int entries) {
        for (int i = 0; i < entries; i++) {
            long d = TABLE + 16L * i;
            memory.writeLong(d, 0x100000 + 512L * i);
            memory.writeInt(d + 8, 512);
            boolean last = i == entries - 1;
            memory.writeShort(d + 12, (short) ((last ? Virtqueue.F_WRITE : 0) | (last ? 0 : Virtqueue.F_NEXT)));
            memory.writeShort(d + 14, (short) (i + 1));
        }
        memory.writeLong(DESC, TABLE);
        memory.writeInt(DESC + 8, 16 * entries);
        memory.writeShort(DESC + 12, (short) Virtqueue.F_INDIRECT);
        memory.writeShort(AVAIL + 4, (short) 0);
        memory.writeShort(AVAIL + 2, (short) 1);
    }

    @Test
    void aTableLongerThanTheRingButWithinTheDeviceMaximumIsServed() {
        try (GuestMemory memory = GuestMemory.allocate(4 << 20)) {
            Virtqueue q = ring(memory);
            publishIndirect(memory, 256);
            DescriptorChain chain = q.pop(memory, true);
            assertEquals(256, chain.buffers().size());
            assertEquals(0, chain.head());
        }
    }

    @Test
    void aTableBeyondTheDeviceMaximumIsRefused() {
        try (GuestMemory memory = GuestMemory.allocate(4 << 20)) {
            Virtqueue q = ring(memory);
            publishIndirect(memory, 257);
            VirtqueueException e = assertThrows(VirtqueueException.class, () -> q.pop(memory, true));
            assertEquals("indirect table of " + 257 * 16 + " bytes", e.getMessage());
        }
    }
}
