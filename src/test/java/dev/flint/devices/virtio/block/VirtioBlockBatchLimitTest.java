package dev.flint.devices.virtio.block;

import dev.flint.devices.virtio.VirtioTestDriver;
import dev.flint.devices.virtio.VirtioTestDriver.Segment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A driver that publishes more requests than one batch takes (Linux at iodepth 32) hears of the first
 * batch's completions by their own interrupt, so it can refill those slots while the device serves the
 * rest; every request is still answered once, with the right data.
 */
class VirtioBlockBatchLimitTest {
    private static final long MIB = 1 << 20;
    private static final int QUEUE_VECTOR_DATA = 0x41; // VirtioTestDriver.enableMsix: data 0x40 + vector 1
    private static final long HEADERS = 0x30000, STATUSES = 0x38000;

    @TempDir
    Path dir;

    @Test
    void twoBatchesWorthPublishedAtOnceCompleteInTwoInterruptsWithTheirData() throws IOException {
        int requests = 2 * VirtioBlock.BATCH;
        byte[] disk = new byte[(int) MIB];
        new Random(5).nextBytes(disk); // fixed seed: the content only has to differ per sector
        Path image = Files.write(dir.resolve("disk.img"), disk);
        try (BlockRig rig = new BlockRig(new DriveConfig(image, false), 16 * MIB).start(true)) {
            VirtioTestDriver.Queue q = rig.queue;
            for (int j = 0; j < requests; j++) { // request j reads sector 7 j into its own buffer
                long header = HEADERS + 16L * j;
                rig.memory.writeInt(header, VirtioBlock.T_IN);
                rig.memory.writeLong(header + 8, 7L * j);
                rig.memory.writeByte(STATUSES + j, (byte) 0x7F);
                q.publish(q.addChain(List.of(Segment.in(header, 16), Segment.out(BlockRig.DATA + 512L * j, 512),
                        Segment.out(STATUSES + j, 1))));
            }
            q.kick(); // one notification for all of them
            if (!q.awaitUsed(requests, 30_000)) throw new AssertionError("requests not completed, status " + rig.driver.status());
            // One interrupt per batch: the first batch's completions were announced before the second was served.
            VirtioTestDriver.awaitMsis(rig.irq, QUEUE_VECTOR_DATA, 2);
            for (int j = 0; j < requests; j++) {
                assertEquals(0, rig.memory.readByte(STATUSES + j), "status of request " + j);
                byte[] got = new byte[512], want = new byte[512];
                rig.memory.read(BlockRig.DATA + 512L * j, got, 0, 512);
                System.arraycopy(disk, (int) (7L * j * 512), want, 0, 512);
                assertArrayEquals(want, got, "data of request " + j);
            }
            assertEquals(0, rig.device.guestErrors());
        }
    }
}
