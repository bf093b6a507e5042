package dev.flint.devices.nvme;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.devices.ratelimit.BucketConfig;
import dev.flint.devices.ratelimit.RateLimit;
import dev.flint.devices.virtio.block.DriveConfig;
import dev.flint.testing.Await;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * NVMe rate limits are per namespace (each drive is one): a command beyond its namespace's budget stays at
 * the head of its submission queue until the tokens are there, while another namespace's queue goes on.
 */
class NvmeRateLimitTest {
    @TempDir
    Path dir;

    private DriveConfig drive(String name, RateLimit limit) throws Exception {
        Path image = Files.write(dir.resolve(name), new byte[1 << 20]);
        return new DriveConfig(image, false, DriveConfig.Interface.NVME, null, limit);
    }

    @Test
    void aCommandBeyondItsNamespacesBudgetWaitsUntilAnUpdateLiftsTheLimit() throws Exception {
        RateLimit oneOpAnHour = new RateLimit(null, new BucketConfig(1, 0, 3_600_000));
        try (NvmeRig rig = new NvmeRig(List.of(drive("limited.img", oneOpAnHour), drive("free.img", RateLimit.NONE)), 2, 16 << 20).start()) {
            NvmeTestDriver.expectSuccess(rig.read(1, 0, 8, NvmeRig.DATA));
            NvmeTestDriver.Queue second = rig.driver.createIoQueue(2);
            rig.queue.put(rig.rw(NvmeSpec.IO_READ, 1, 8, 8, NvmeRig.DATA));
            rig.queue.ring();
            Await.until("namespace 1's limiter refused the read", Duration.ofSeconds(30),
                    () -> rig.device.counters().get("rate_limiter_throttled_events") == 1);
            // Namespace 2 has no limit: its queue is served meanwhile.
            NvmeTestDriver.expectSuccess(second.run(rig.rw(NvmeSpec.IO_READ, 2, 0, 8, NvmeRig.DATA + 0x10000)));
            assertNull(rig.queue.poll(50), "the limited read is still waiting");

            rig.device.updateRateLimit(1, null, new BucketConfig(0, 0, 0)); // PATCH: the ops bucket removed
            NvmeTestDriver.Completion done = rig.queue.poll(30_000);
            assertNotNull(done, "the held read completes once the limit is lifted");
            assertEquals(0, done.status());
            assertEquals(2 * 4096L + 4096, rig.device.counters().get("read_bytes"));
        }
    }

    @Test
    void aThrottledReadCompletesByItselfOnceTheBucketRefilled() throws Exception {
        RateLimit fourKiBPer200ms = new RateLimit(new BucketConfig(4096, 0, 200), null);
        try (NvmeRig rig = new NvmeRig(List.of(drive("disk.img", fourKiBPer200ms)), 1, 16 << 20).start()) {
            long start = System.nanoTime();
            NvmeTestDriver.expectSuccess(rig.read(1, 0, 8, NvmeRig.DATA));
            NvmeTestDriver.expectSuccess(rig.read(1, 8, 8, NvmeRig.DATA)); // waits for the I/O thread's timed wake-up
            long elapsedMs = (System.nanoTime() - start) / 1_000_000;
            assertTrue(elapsedMs >= 200, "served after " + elapsedMs + " ms, before the bucket could refill");
            assertEquals(1L, rig.device.counters().get("rate_limiter_throttled_events"));
            assertEquals(1L, rig.device.counters().get("rate_limiter_event_count"));
        }
    }
}
