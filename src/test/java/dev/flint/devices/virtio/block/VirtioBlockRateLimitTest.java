package dev.flint.devices.virtio.block;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.devices.ratelimit.BucketConfig;
import dev.flint.devices.ratelimit.RateLimit;
import dev.flint.devices.virtio.VirtioTestDriver.Segment;
import dev.flint.testing.Await;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** virtio-blk under a rate limiter: requests beyond the budget wait on the ring, then go by themselves or after an update. */
class VirtioBlockRateLimitTest {
    private static final long HOUR_MS = 3_600_000;

    @TempDir
    Path dir;

    private BlockRig rig(RateLimit limit) throws Exception {
        Path image = Files.write(dir.resolve("disk.img"), new byte[1 << 20]);
        return new BlockRig(new DriveConfig(image, false, DriveConfig.Interface.VIRTIO, null, limit), 16 << 20).start(true);
    }

    private static List<Segment> readRequest(long data) {
        return List.of(Segment.in(BlockRig.HEADER, 16), Segment.out(data, 4096), Segment.out(BlockRig.STATUS, 1));
    }

    @Test
    void aRequestBeyondTheOpsBudgetWaitsOnTheRingUntilAnUpdateLiftsTheLimit() throws Exception {
        try (BlockRig rig = rig(new RateLimit(null, new BucketConfig(2, 0, HOUR_MS)))) {
            assertEquals(VirtioBlock.S_OK, rig.read(0, BlockRig.DATA, 4096));
            assertEquals(VirtioBlock.S_OK, rig.request(VirtioBlock.T_FLUSH, 0, List.of()));
            rig.memory.writeInt(BlockRig.HEADER, VirtioBlock.T_IN);
            rig.queue.publish(rig.queue.addChain(readRequest(BlockRig.DATA)));
            rig.queue.kick();
            Await.until("the limiter refused the third request", Duration.ofSeconds(30),
                    () -> rig.device.counters().get("rate_limiter_throttled_events") == 1);
            assertEquals(2, rig.queue.usedIndex(), "the third request is held: the ops bucket is empty for an hour");

            long again = rig.device.ioPasses();
            rig.queue.kick(); // the guest's kicks meanwhile change nothing and are not counted again
            Await.until("the I/O thread looked again", Duration.ofSeconds(30), () -> rig.device.ioPasses() > again);
            assertEquals(2, rig.queue.usedIndex());
            assertEquals(1L, rig.device.counters().get("rate_limiter_throttled_events"));

            ((VirtioBlock) rig.device.model()).updateRateLimit(null, new BucketConfig(0, 0, 0)); // PATCH: ops removed
            rig.device.requeueAll();
            assertTrue(rig.queue.awaitUsed(1, 30_000), "the held request goes once the limit is lifted");
            assertEquals(VirtioBlock.S_OK, rig.memory.readByte(BlockRig.STATUS));
        }
    }

    @Test
    void aThrottledReadCompletesByItselfOnceTheBucketRefilledAndNotBefore() throws Exception {
        // 4 KiB per 200 ms: the second 4 KiB read must wait for a whole refill.
        try (BlockRig rig = rig(new RateLimit(new BucketConfig(4096, 0, 200), null))) {
            long start = System.nanoTime();
            assertEquals(VirtioBlock.S_OK, rig.read(0, BlockRig.DATA, 4096));
            assertEquals(VirtioBlock.S_OK, rig.read(8, BlockRig.DATA, 4096)); // submit() waits up to 10 s
            long elapsedMs = (System.nanoTime() - start) / 1_000_000;
            assertTrue(elapsedMs >= 200, "served after " + elapsedMs + " ms, before the bucket could refill");
            var counters = rig.device.counters();
            assertEquals(1L, counters.get("rate_limiter_throttled_events"));
            assertEquals(1L, counters.get("rate_limiter_event_count"), "the I/O thread's timed wake-up served it");
            assertEquals(8192L, counters.get("read_bytes"));
        }
    }

    @Test
    void aReadLargerThanTheWholeBucketIsServedAndTheNextPaysForIt() throws Exception {
        try (BlockRig rig = rig(new RateLimit(new BucketConfig(4096, 0, 100), null))) {
            long start = System.nanoTime();
            assertEquals(VirtioBlock.S_OK, rig.read(0, BlockRig.DATA, 16384)); // 4x the bucket: served at once
            assertEquals(VirtioBlock.S_OK, rig.read(0, BlockRig.DATA, 512));
            long elapsedMs = (System.nanoTime() - start) / 1_000_000;
            assertTrue(elapsedMs >= 300, "12 KiB of debt at 4 KiB per 100 ms take 300 ms; served after " + elapsedMs);
        }
    }
}
