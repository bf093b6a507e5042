package dev.flint.devices.virtio.block;

import dev.flint.devices.virtio.VirtioSpec;
import dev.flint.devices.virtio.VirtioTestDriver;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A driver that negotiated VIRTIO_F_EVENT_IDX, as Linux's does: the device keeps avail_event at the next
 * entry it will read, and sends a queue interrupt only when the used index passes the driver's used_event.
 */
class VirtioBlockEventIdxTest {
    private static final long MIB = 1 << 20;
    private static final int QUEUE_VECTOR_DATA = 0x41; // VirtioTestDriver.enableMsix: data 0x40 + vector 1

    @TempDir
    Path dir;

    @Test
    void interruptsComeOnlyWhereTheDriverAskedAndNotificationsAreAskedForAtTheNextEntry() throws IOException {
        Path image = dir.resolve("disk.img");
        Files.write(image, new byte[(int) MIB]);
        try (BlockRig rig = new BlockRig(new DriveConfig(image, false), 16 * MIB)) {
            rig.driver.enableMsix(2);
            long features = rig.driver.negotiate(Long.MAX_VALUE); // everything offered, event-idx named
            assertEquals(VirtioSpec.F_EVENT_IDX, features & VirtioSpec.F_EVENT_IDX);
            rig.driver.common(0x10, 2, 0);
            VirtioTestDriver.Queue q = rig.driver.setupQueue(0, VirtioBlock.QUEUE_SIZE, BlockRig.QUEUE_BASE, 1);
            rig.queue = q;
            rig.driver.driverOk();
            long usedEvent = q.avail + 4 + 2L * q.size, availEvent = q.used + 4 + 8L * q.size;

            assertEquals(0, rig.read(0, BlockRig.DATA, 4096));
            VirtioTestDriver.awaitMsis(rig.irq, QUEUE_VECTOR_DATA, 1); // the first decision always interrupts
            assertEquals(1, rig.memory.readShort(availEvent), "notify the device at entry 1");

            rig.memory.writeShort(usedEvent, (short) 1000); // a driver polling the ring: no interrupts wanted
            for (int i = 2; i <= 4; i++) {
                assertEquals(0, rig.read(i, BlockRig.DATA, 4096));
                assertEquals(i, rig.memory.readShort(availEvent), "avail_event follows the ring");
            }
            rig.memory.writeShort(usedEvent, (short) 4); // "interrupt me once entry 4 is used"
            assertEquals(0, rig.write(5, BlockRig.DATA, 4096));
            // The I/O thread signals batch by batch, in order: once this interrupt is in, any interrupt for
            // requests 2 to 4 would be in too, and the count would be past 2.
            VirtioTestDriver.awaitMsis(rig.irq, QUEUE_VECTOR_DATA, 2);
            rig.memory.writeShort(usedEvent, (short) 5);
            assertEquals(0, rig.read(5, BlockRig.DATA, 4096));
            VirtioTestDriver.awaitMsis(rig.irq, QUEUE_VECTOR_DATA, 3);
            assertEquals(0, rig.device.guestErrors());
        }
    }
}
