package dev.flint.devices.virtio.net;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.devices.ratelimit.BucketConfig;
import dev.flint.devices.ratelimit.RateLimit;
import dev.flint.devices.virtio.VirtioTestDriver.Segment;
import dev.flint.testing.Await;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** virtio-net's receive and transmit limiters: a frame beyond the budget waits (in the device or on the ring). */
class VirtioNetRateLimitTest {
    private static final RateLimit ONE_FRAME_AN_HOUR = new RateLimit(null, new BucketConfig(1, 0, 3_600_000));

    @Test
    void aSecondTransmittedFrameWaitsOnTheRingUntilTheLimitIsLifted() {
        try (NetRig rig = new NetRig(4 << 20, null, null, RateLimit.NONE, ONE_FRAME_AN_HOUR)) {
            rig.start(-1L);
            byte[] frame = VirtioNetTest.frame(600, 1);
            rig.memory.write(NetRig.BUFFERS, frame, 0, frame.length);
            assertEquals(0, rig.tx.submit(List.of(Segment.in(NetRig.BUFFERS, frame.length))));
            assertArrayEquals(frame, rig.backend.receiveFromGuest(2000));

            rig.tx.publish(rig.tx.addChain(List.of(Segment.in(NetRig.BUFFERS, frame.length))));
            rig.tx.kick();
            Await.until("the transmit limiter refused the second frame", Duration.ofSeconds(30),
                    () -> rig.device.counters().get("tx_rate_limiter_throttled") == 1);
            assertNull(rig.backend.receiveFromGuest(100), "nothing reached the TAP");
            assertEquals(1, rig.tx.usedIndex());

            ((VirtioNet) rig.device.model()).updateRateLimits(null, null, null, new BucketConfig(0, 0, 0));
            rig.device.requeueAll();
            assertArrayEquals(frame, rig.backend.receiveFromGuest(30_000));
            assertTrue(rig.tx.awaitUsed(1, 30_000));
        }
    }

    @Test
    void aReceivedFrameBeyondTheBudgetWaitsInTheDeviceThenComesByItself() {
        // 700 frame bytes per 2 s: the second 600-byte frame must wait for the bucket to refill. (The window is
        // that long so that a loaded machine cannot take so long between the two frames that the tokens are back.)
        try (NetRig rig = new NetRig(4 << 20, null, null, new RateLimit(new BucketConfig(700, 0, 2000), null), RateLimit.NONE)) {
            rig.start(-1L);
            rig.rx.publish(rig.rx.addChain(List.of(Segment.out(NetRig.BUFFERS, 2048))));
            rig.rx.publish(rig.rx.addChain(List.of(Segment.out(NetRig.BUFFERS + 0x1000, 2048))));
            rig.rx.kick();
            long start = System.nanoTime();
            rig.backend.sendToGuest(VirtioNetTest.frame(612, 2)); // 600 bytes after the 12-byte header
            assertTrue(rig.rx.awaitUsed(1, 30_000));
            rig.backend.sendToGuest(VirtioNetTest.frame(612, 3));
            assertTrue(rig.rx.awaitUsed(1, 30_000), "the second frame arrives by itself once the tokens are back");
            long elapsedMs = (System.nanoTime() - start) / 1_000_000;
            assertTrue(elapsedMs >= 2000 * 500 / 700, "delivered after " + elapsedMs + " ms, before the bucket could hold it");
            assertEquals(1L, rig.device.counters().get("rx_rate_limiter_throttled"));
            assertEquals(1L, rig.device.counters().get("rx_event_rate_limiter_count"));
            assertFalse(rig.rx.awaitUsed(1, 10), "nothing more");
        }
    }
}
