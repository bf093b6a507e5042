package dev.flint.devices.ratelimit;

import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * A device direction's rate limiter: an operations bucket and a bandwidth (bytes) bucket, either of which
 * may be absent. The device's I/O thread asks {@link #consume} before it takes a request; a "not yet" is
 * the time to wait, and the device leaves the request queued and has its thread woken then (never a sleep
 * or a spin). The API thread may {@link #update} the buckets at any time.
 *
 * <p>Counters, as Firecracker's metrics name them for block devices: {@link #throttledEvents()} (a request
 * found the limiter short of tokens) and {@link #wakeEvents()} (the first request after such a wait).
 */
public final class RateLimiter {
    private final LongSupplier clock;
    private TokenBucket bandwidth;
    private TokenBucket ops;
    /** The clock reading before which the limiter is known to refuse (0: not throttled). */
    private long blockedUntil;
    private boolean blocked;
    private final LongAdder throttled = new LongAdder();
    private final LongAdder wakes = new LongAdder();

    /** A limiter on the host's monotonic clock. */
    public RateLimiter(RateLimit limit) {
        this(limit, System::nanoTime);
    }

    /** A limiter on {@code clock} (nanoseconds, monotonic): tests drive it by hand. */
    public RateLimiter(RateLimit limit, LongSupplier clock) {
        this.clock = clock;
        RateLimit l = RateLimit.orNone(limit);
        long now = clock.getAsLong();
        this.bandwidth = l.bandwidth() == null ? null : new TokenBucket(l.bandwidth(), now);
        this.ops = l.ops() == null ? null : new TokenBucket(l.ops(), now);
    }

    /** Whether any bucket is in place (a limiter with none lets everything through at no cost). */
    public synchronized boolean limits() { return bandwidth != null || ops != null; }

    /**
     * Asks for one request of {@code bytes} bytes ({@code ops} operations, normally 1). Returns 0 if it may go
     * now, its tokens taken from both buckets; otherwise takes nothing and returns the nanoseconds (at least 1)
     * to wait before asking again.
     */
    public synchronized long consume(long ops, long bytes) {
        if (this.ops == null && bandwidth == null) return 0;
        long now = clock.getAsLong();
        if (blocked) {
            if (now - blockedUntil < 0) return blockedUntil - now; // the device's wake-up is still to come
            blocked = false;
            wakes.increment();
        }
        long wait = Math.max(this.ops == null ? 0 : this.ops.waitFor(ops, now),
                bandwidth == null ? 0 : bandwidth.waitFor(bytes, now));
        if (wait > 0) {
            blocked = true;
            blockedUntil = now + wait;
            throttled.increment();
            return wait;
        }
        if (this.ops != null) this.ops.take(ops, now);
        if (bandwidth != null) bandwidth.take(bytes, now);
        return 0;
    }

    /**
     * Firecracker's runtime update: a null bucket stays as it is; a given one replaces the old bucket with a
     * fresh, full one (its one-time burst included), or removes it when it limits nothing. Whatever wait was
     * running is forgotten; the device should look at its queue again.
     */
    public synchronized void update(BucketConfig bandwidth, BucketConfig ops) {
        long now = clock.getAsLong();
        if (bandwidth != null) this.bandwidth = bandwidth.limits() ? new TokenBucket(bandwidth, now) : null;
        if (ops != null) this.ops = ops.limits() ? new TokenBucket(ops, now) : null;
        blocked = false;
    }

    /** Requests the limiter refused because its tokens were short. */
    public long throttledEvents() { return throttled.sum(); }

    /** Waits that ended with the device asking again. */
    public long wakeEvents() { return wakes.sum(); }

    /** Version of {@link #save}'s layout. */
    private static final int STATE_VERSION = 1;

    /**
     * Snapshot: each bucket's configuration (a PATCH may have changed it since boot) and the tokens it holds
     * now, as Firecracker keeps them. A wait under way is not kept: the restored device asks again.
     */
    public synchronized void save(dev.flint.machine.state.StateWriter.Section out) {
        long now = clock.getAsLong();
        out.putInt(STATE_VERSION);
        for (TokenBucket b : new TokenBucket[] {bandwidth, ops}) {
            out.putBoolean(b != null);
            if (b == null) continue;
            BucketConfig c = b.config();
            out.putLong(c.size()).putLong(c.oneTimeBurst()).putLong(c.refillTimeMs()).putLong(b.budgetAt(now)).putLong(b.burst());
        }
    }

    /** Takes back {@link #save}'s buckets, replacing these; the refill clock starts again now. */
    public synchronized void restore(dev.flint.machine.state.StateReader.Section in) {
        int version = in.getInt();
        if (version != STATE_VERSION) {
            throw new dev.flint.machine.state.SnapshotException("rate limiter state version " + version + " (this Flint reads " + STATE_VERSION + ")");
        }
        long now = clock.getAsLong();
        TokenBucket[] buckets = new TokenBucket[2];
        for (int i = 0; i < 2; i++) {
            if (!in.getBoolean()) continue;
            long size = in.getLong(), burst = in.getLong(), refill = in.getLong(), budget = in.getLong(), left = in.getLong();
            try {
                buckets[i] = new TokenBucket(new BucketConfig(size, burst, refill), budget, left, now);
            } catch (IllegalArgumentException e) {
                throw new dev.flint.machine.state.SnapshotException("the snapshot's rate limiter is invalid: " + e.getMessage(), e);
            }
        }
        bandwidth = buckets[0];
        ops = buckets[1];
        blocked = false;
    }
}
