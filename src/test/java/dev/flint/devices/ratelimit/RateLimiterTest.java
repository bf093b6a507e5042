package dev.flint.devices.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Firecracker's token-bucket rules on a clock the test moves by hand: no sleeps, exact figures. */
class RateLimiterTest {
    private static final long MS = 1_000_000;
    private long now = 1_000 * MS;

    private RateLimiter limiter(BucketConfig bandwidth, BucketConfig ops) {
        return new RateLimiter(new RateLimit(bandwidth, ops), () -> now);
    }

    @Test
    void aFullBucketServesItsSizeThenPacesAtSizePerRefillTime() {
        RateLimiter l = limiter(new BucketConfig(1000, 0, 100), null); // 1000 bytes per 100 ms
        assertEquals(0, l.consume(1, 600));
        assertEquals(0, l.consume(1, 400));
        assertEquals(50 * MS, l.consume(1, 500), "500 bytes come back in 50 ms");
        assertEquals(1, l.throttledEvents());
        now += 20 * MS;
        assertEquals(30 * MS, l.consume(1, 500), "still waiting: not counted twice");
        assertEquals(1, l.throttledEvents());
        now += 30 * MS;
        assertEquals(0, l.consume(1, 500));
        assertEquals(1, l.wakeEvents());
    }

    @Test
    void overTimeTheRateIsExactlySizePerRefillTime() {
        RateLimiter l = limiter(new BucketConfig(4096, 0, 10), null); // 409.6 KB/s
        long served = 0, start = now;
        for (int i = 0; i < 10_000; i++) {
            long wait;
            while ((wait = l.consume(1, 3000)) > 0) now += wait;
            served += 3000;
        }
        long elapsed = now - start;
        // The first 4096 bytes were in the bucket; the rest came at 4096 per 10 ms, rounded to whole nanoseconds.
        long expected = (served - 4096) * 10 * MS / 4096;
        assertTrue(Math.abs(elapsed - expected) < 10 * MS, elapsed + " vs " + expected);
    }

    @Test
    void theOneTimeBurstIsSpentFirstAndNeverComesBack() {
        RateLimiter l = limiter(new BucketConfig(100, 1000, 1000), null);
        assertEquals(0, l.consume(1, 1000), "the burst");
        assertEquals(0, l.consume(1, 100), "then the bucket");
        assertEquals(500 * MS, l.consume(1, 50));
        now += 10_000 * MS;
        assertEquals(0, l.consume(1, 100));
        assertEquals(500 * MS, l.consume(1, 50), "no burst again: only the bucket refilled");
    }

    @Test
    void aBurstThatCoversPartOfARequestIsKeptWhenTheRestMustWait() {
        RateLimiter l = limiter(new BucketConfig(100, 30, 1000), null);
        assertEquals(0, l.consume(1, 100)); // 30 burst + 70 bucket
        assertEquals(0, l.consume(1, 30)); // bucket 30 -> 0
        assertEquals(500 * MS, l.consume(1, 50));
        now += 500 * MS;
        assertEquals(0, l.consume(1, 50));
    }

    @Test
    void aRequestLargerThanTheBucketGoesAndThePaceIsPaidBackAfterwards() {
        RateLimiter l = limiter(new BucketConfig(1000, 0, 1000), null); // 1000 bytes per second
        assertEquals(0, l.consume(1, 3000), "served although it never fits");
        assertEquals(2001 * MS, l.consume(1, 1), "2000 bytes of debt and then 1 byte take 2.001 s");
        now += 2000 * MS;
        assertEquals(MS, l.consume(1, 1));
        now += MS;
        assertEquals(0, l.consume(1, 1));
        assertEquals(0, l.consume(1, 5000), "out of debt: the next oversized one goes too");
    }

    @Test
    void opsAndBytesMustBothBeThereAndNeitherIsTakenAlone() {
        RateLimiter l = limiter(new BucketConfig(1000, 0, 1000), new BucketConfig(2, 0, 1000));
        assertEquals(0, l.consume(1, 400));
        assertEquals(0, l.consume(1, 400));
        assertEquals(500 * MS, l.consume(1, 100), "out of ops: one op comes back in 500 ms");
        now += 500 * MS; // 1 op, 700 bytes
        assertEquals(300 * MS, l.consume(1, 1000), "ops are there, bytes not: wait for 300 more bytes");
        now += 300 * MS;
        assertEquals(0, l.consume(1, 1000), "the op was not taken by the refused attempt");
    }

    @Test
    void anUpdateReplacesOrRemovesABucketAndKeepsWhatItDoesNotName() {
        RateLimiter l = limiter(new BucketConfig(100, 0, 1000), new BucketConfig(1, 0, 1000));
        assertEquals(0, l.consume(1, 100));
        assertTrue(l.consume(1, 100) > 0);
        l.update(new BucketConfig(10_000, 0, 1000), null); // new, full bandwidth bucket; ops unchanged
        assertEquals(1000 * MS, l.consume(1, 100), "the ops bucket is the old one, still empty");
        l.update(null, new BucketConfig(0, 0, 0)); // ops removed
        assertEquals(0, l.consume(1, 10_000));
        l.update(new BucketConfig(0, 0, 1), null);
        assertTrue(!l.limits());
        assertEquals(0, l.consume(1, Long.MAX_VALUE));
    }

    @Test
    void noBucketsMeansNoLimitAndZeroSizedBucketsLimitNothing() {
        assertEquals(0, limiter(null, null).consume(1, Long.MAX_VALUE));
        assertTrue(!new RateLimit(new BucketConfig(0, 5, 100), new BucketConfig(5, 0, 0)).limits());
    }

    @Test
    void hugeFiguresNeitherOverflowNorWaitForever() {
        RateLimiter l = limiter(new BucketConfig(Long.MAX_VALUE / 2, 0, BucketConfig.MAX_REFILL_TIME_MS), null);
        assertEquals(0, l.consume(1, Long.MAX_VALUE / 2));
        long wait = l.consume(1, 1);
        assertTrue(wait > 0 && wait < Long.MAX_VALUE, "" + wait);
        now += 365L * 24 * 3600 * 1000 * MS; // a year later, the bucket has refilled a little
        assertEquals(0, l.consume(1, 1));
        assertEquals(Long.MAX_VALUE, TokenBucket.mulDiv(Long.MAX_VALUE, Long.MAX_VALUE, 1, false));
        assertEquals(3, TokenBucket.mulDiv(5, 3, 5, true));
        assertEquals(5, TokenBucket.mulDiv(7, 3, 5, true));
        assertEquals(4, TokenBucket.mulDiv(7, 3, 5, false));
    }

    @Test
    void badFiguresAreRefusedWithTheFieldName() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new BucketConfig(-1, 0, 1)).getMessage().contains("size"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new BucketConfig(1, -1, 1)).getMessage().contains("one_time_burst"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new BucketConfig(1, 0, Long.MAX_VALUE)).getMessage().contains("refill_time"));
        assertEquals(new BucketConfig(1048576, 0, 1000), RateLimit.parseBucket("bandwidth", "1048576/1000"));
        assertEquals(new BucketConfig(10, 5, 1000), RateLimit.parseBucket("ops", "10/1000/5"));
        assertThrows(IllegalArgumentException.class, () -> RateLimit.parseBucket("ops", "10"));
        assertThrows(IllegalArgumentException.class, () -> RateLimit.parseBucket("ops", "x/1"));
        assertThrows(IllegalArgumentException.class, () -> RateLimit.parseBucket("ops", "-1/1"));
    }

    /**
     * A snapshot keeps each bucket as it last was (a PATCH included) with the tokens it held, burst too: the
     * restored limiter lets through exactly what the old one would have, and a limiter built without buckets
     * (as a restored device is) takes them over.
     */
    @Test
    void aSnapshotKeepsTheBucketsAndTheirTokens() {
        RateLimiter before = limiter(new BucketConfig(1000, 0, 100), null);
        before.update(null, new BucketConfig(10, 5, 1000)); // changed at run time: 10 ops per second, 5 once
        assertEquals(0, before.consume(12, 700)); // 5 ops from the burst, 7 from the bucket; 300 bytes left
        dev.flint.machine.state.StateWriter state = new dev.flint.machine.state.StateWriter();
        try (var s = state.section("limiter")) { before.save(s); }

        now += 5_000 * MS; // the new VMM starts later: time while no VMM ran earns nothing
        RateLimiter after = limiter(null, null);
        var in = dev.flint.machine.state.StateReader.of(state).section("limiter");
        after.restore(in);
        in.end();
        assertTrue(after.limits());
        assertEquals(70 * MS, after.consume(1, 1000), "300 bytes were left: 700 more take 70 ms");
        now += 70 * MS;
        assertEquals(0, after.consume(3, 1000), "3 ops of the 3 left, and the bytes refilled");
        assertTrue(after.consume(1, 0) > 0, "the ops bucket is empty and its one-time burst spent");
    }
}
