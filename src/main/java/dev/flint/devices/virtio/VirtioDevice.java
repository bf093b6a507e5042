package dev.flint.devices.virtio;

import java.util.Map;

/**
 * What a device type (block, entropy...) contributes; the PCI transport ({@link VirtioPciDevice}) does
 * the rest: configuration space, feature negotiation, status, rings, interrupts and the I/O thread.
 *
 * <p>{@link #handle} runs on the device's I/O thread only, one chain at a time. It must not throw for
 * anything the guest controls except {@link dev.flint.machine.GuestMemoryException} (a buffer outside
 * RAM) and {@link MalformedRequestException}, which the transport counts as guest errors and completes
 * with nothing written.
 */
public interface VirtioDevice extends AutoCloseable {
    /** Virtio device type (2 block, 4 entropy...); the PCI device ID is 0x1040 plus this. */
    int type();

    /** Short name for threads, logs and bus registrations, e.g. "virtio-blk". */
    String name();

    /** 24-bit PCI class code. */
    int pciClass();

    /** Device-specific feature bits this model implements (the transport adds its own). */
    /**
     * Whether the transport may offer VIRTIO_F_EVENT_IDX for this device: its queues are served through
     * {@link VirtioPciDevice}'s batch loop, which keeps avail_event and reads used_event.
     */
    default boolean offersEventIdx() { return false; }

    long features();

    int queueCount();

    int maxQueueSize();

    /** Bytes of device-specific configuration. */
    int configSize();

    /** Little-endian read of the device configuration; offsets are bounds-checked by the transport. */
    long readConfig(int offset, int size);

    /** The {@code size}-byte little-endian value at {@code offset} of a configuration laid out in {@code bytes}. */
    static long littleEndian(byte[] bytes, int offset, int size) {
        long v = 0;
        for (int i = size - 1; i >= 0; i--) v = v << 8 | (bytes[offset + i] & 0xFF);
        return v;
    }

    /** Most configurations are read-only: the default ignores writes. */
    default void writeConfig(int offset, int size, long value) { }

    /**
     * Whether the device has something to put in {@code queue}'s next chain. The transport takes a chain
     * off the ring only when this is true, so a device fed from outside (network frames arriving) leaves
     * the driver's buffers on the ring until it has data, then asks for service through the
     * {@link VirtioPciDevice#queueNotifier()}. Most queues carry requests the driver starts: true.
     */
    default boolean readyFor(int queue) { return true; }

    /**
     * The driver set DRIVER_OK having accepted {@code features} (the transport's bits included); runs
     * under the transport's lock, before any chain is served. A device that configures its host backend
     * after what the driver can take (network offloads, say) does it here.
     */
    default void activate(long features) { }

    /**
     * A rate-limited device's say on the chain just taken off {@code queue}: 0 to serve it now (the limiter's
     * tokens are taken), or the nanoseconds to wait. On a wait the transport puts the chain back on the ring,
     * stops serving the queue and has the I/O thread come back to it then; the guest's further notifications
     * meanwhile find the limiter still closed. Runs on the I/O thread, before {@link #handle}; must not throw.
     */
    default long throttle(int queue, DescriptorChain chain) { return 0; }

    /**
     * Serves one request and returns the number of bytes written into its device-writable buffers,
     * {@link #DEFERRED}: the request's I/O is queued and {@link #finishBatch} completes it, or
     * {@link #KEEP} to hold on to the chain (the balloon's statistics buffer, which goes back to the driver
     * only when the device wants fresh figures; see {@link #releasedChain}).
     */
    int handle(int queue, DescriptorChain chain);

    /**
     * Serves a request straight from the walk's reused arrays, allocating nothing, or returns {@link #DECLINED}: the
     * transport then makes the chain a {@link DescriptorChain} and goes through {@link #throttle} and {@link #handle}
     * as for any request. Otherwise the answer means what {@link #handle}'s does ({@link #DEFERRED}, bytes
     * written), except {@link #KEEP}, which only {@link #handle} may answer. {@code chain} is overwritten by the next
     * walk: a device keeps nothing of it. A device that is rate limited must decline while its limiter is on (this
     * call comes before {@link #throttle}). The default declines every request.
     */
    default int serveInPlace(int queue, ChainView chain) { return DECLINED; }

    /** {@link #serveInPlace}'s answer for a request it leaves to {@link #handle}. */
    int DECLINED = -3;

    /** {@link #handle}'s answer for a chain the device keeps instead of returning it now. */
    int KEEP = -2;

    /**
     * The head of a chain this device kept ({@link #KEEP}) and now gives back to the driver with nothing
     * written, or -1. The transport asks before taking new chains off {@code queue}; a device that wants
     * to return one asks for service through the {@link VirtioPciDevice#queueNotifier()}.
     */
    default int releasedChain(int queue) { return -1; }

    /** What {@link #handle} returns for a request it completes later, in {@link #finishBatch}. */
    int DEFERRED = -1;

    /** Where {@link #finishBatch} returns each deferred chain. */
    @FunctionalInterface
    interface Used {
        void used(int head, int written);
    }

    /**
     * Ends a batch: the transport took every chain one notification published (or a queue's worth) and
     * handed each to {@link #handle}; the device now completes every one it deferred, reporting each to
     * {@code used} exactly once. Must not throw for anything the guest controls.
     */
    default void finishBatch(int queue, Used used) { }

    /**
     * At most how many chains one batch of {@code queue} takes before it is finished and its completions go
     * back to the driver; the transport then starts the next batch at once. A device that defers its I/O keeps
     * this below the queue's depth so the driver sees the first completions, and refills those slots, while the
     * device serves the rest (as a disk that answers each request when it is done); the default is unbounded
     * (a queue's worth).
     */
    default int batchLimit(int queue) { return Integer.MAX_VALUE; }

    /**
     * Cumulative request counters for metrics, named "metric" (the VMM prefixes the device group, e.g.
     * "block."). Called from any thread.
     */
    default Map<String, Long> counters() { return Map.of(); }

    /** The metrics group its counters are reported under (Firecracker's: "block", "entropy"). */
    default String metricsGroup() { return name(); }

    /**
     * Snapshot of the model's own state, beyond what the transport keeps (rings, features, status): a rate
     * limiter's tokens, a balloon's target. Called on a paused device; the model writes its own layout
     * version first. The default keeps nothing.
     */
    default void saveState(dev.flint.machine.state.StateWriter.Section out) { }

    /**
     * Takes back {@link #saveState}'s state on a model built from the same configuration, before the
     * transport's state (so a driver found active is activated with it) and before any vCPU runs. A layout
     * version this Flint cannot read is a {@link dev.flint.machine.state.SnapshotException}.
     */
    default void restoreState(dev.flint.machine.state.StateReader.Section in) { }

    /** Checks a model's state version: one line naming the device when it is not {@code expected}. */
    static void checkStateVersion(String device, int found, int expected) {
        if (found != expected) {
            throw new dev.flint.machine.state.SnapshotException(device + ": the snapshot's state is version " + found
                    + ", this Flint reads version " + expected);
        }
    }

    /**
     * A host descriptor the device's I/O thread waits on beside its queue notifications (the TAP a network
     * device receives from), so that one thread serves every source of the device; null for none.
     */
    default HostSource hostSource() { return null; }

    /** A host descriptor served on the device's I/O thread (see {@link #hostSource}). */
    interface HostSource {
        /** The descriptor to wait on. */
        int fd();

        /** Whether to wait for it now: a device with nowhere to put what it would read says no (backpressure). */
        boolean wanted();

        /** It is readable (I/O thread, before the queues are served): the queues to serve now, as bits. Must not throw. */
        long readable();
    }

    /** The driver reset the device; forget negotiated state. */
    default void reset() { }

    @Override
    default void close() { }
}
