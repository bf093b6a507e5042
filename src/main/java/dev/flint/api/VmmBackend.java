package dev.flint.api;

import dev.flint.machine.StopReason;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The API's only view of the VMM. The API validates requests and keeps Firecracker's state rules; the
 * backend runs the machine. Keeping this seam small lets every endpoint be tested against a fake, and
 * lets the real {@code dev.flint.vmm.Vmm} plug in with one adapter class.
 *
 * <p>Calls come from API threads one at a time (the API serializes state-changing requests).
 */
public interface VmmBackend {

    /** What this backend can attach; the API refuses InstanceStart for a machine it cannot build. */
    record Capabilities(boolean block, boolean net, boolean entropy) {
        public static final Capabilities NONE = new Capabilities(false, false, false);
    }

    Capabilities capabilities();

    /**
     * A pre-boot configuration request arrived, so a boot is likely coming: the backend may start, in the
     * background, work every boot needs that no request changes. Returns at once; must not change what
     * any request answers (errors stay InstanceStart's).
     */
    default void prepareForBoot() {}

    /**
     * Builds and starts the machine. Returns a future completed when the machine stops (guest power-off,
     * reset, or failure). Throws {@link BackendException} if it cannot start; the message goes to the
     * client as the fault message.
     */
    CompletableFuture<StopReason> start(MachineSpec spec);

    void pause();

    void resume();

    /**
     * Attaches {@code drive} to the running machine as a new namespace of NVMe controller {@code controller}
     * (0 = the first) and returns the namespace ID. The API checked the drive and the index already; a
     * refusal here (the image is locked by another VM, say) is a {@link BackendException} with one line.
     */
    default int attachNvme(int controller, MachineSpec.DriveSpec drive) {
        throw new BackendException("this VMM cannot attach drives to a running microVM");
    }

    /** Detaches namespace {@code nsid} of NVMe controller {@code controller} from the running machine. */
    default void detachNvme(int controller, int nsid) {
        throw new BackendException("this VMM cannot detach drives from a running microVM");
    }

    /**
     * Hot-plugs {@code drive} as an NVMe controller of its own into a free PCI slot of the running machine and
     * returns the slot; the guest is told through ACPI. A refusal is a {@link BackendException} with one line.
     */
    default int hotplugNvme(MachineSpec.DriveSpec drive) {
        throw new BackendException("this VMM cannot hot-plug PCI functions");
    }

    /**
     * After {@link #start}: the PCI slots of the spec's {@code hotpluggable} drives (plugged at boot into
     * hot-pluggable slots), by drive id. They leave as hot-plugged ones do ({@link #requestEject}, {@link #forceRemove}).
     */
    default Map<String, Integer> bootHotplugSlots() {
        return Map.of();
    }

    /** Asks the guest to eject the function hot-plugged in {@code slot}; it stays until the guest did. */
    default void requestEject(int slot) {
        throw new BackendException("this VMM cannot hot-plug PCI functions");
    }

    /** Removes the function hot-plugged in {@code slot} at once, its file closed when this returns. */
    default void forceRemove(int slot) {
        throw new BackendException("this VMM cannot hot-plug PCI functions");
    }

    /** Re-reads the size of the grown file of the drive hot-plugged in {@code slot}; returns bytes. */
    default long resizeHotplugged(int slot) {
        throw new BackendException("this VMM cannot hot-plug PCI functions");
    }

    /** Whether the function hot-plugged in {@code slot} is still there (false once removed and its file closed). */
    default boolean hotplugOccupied(int slot) {
        return false;
    }

    /** Re-reads the size of the grown file of namespace {@code nsid} of NVMe controller {@code controller}; returns bytes. */
    default long resizeNvme(int controller, int nsid) {
        throw new BackendException("this VMM cannot resize drives of a running microVM");
    }

    /**
     * Moves the running machine's balloon target to {@code amountMib}; the guest's driver inflates or
     * deflates towards it. A refusal (no driver running in the guest yet) is a {@link BackendException}.
     */
    default void setBalloonTarget(long amountMib) {
        throw new BackendException("this VMM has no balloon device");
    }

    /** A new statistics polling interval for the running balloon, with a request for figures right away. */
    default void setBalloonStatsInterval(int seconds) {
        throw new BackendException("this VMM has no balloon device");
    }

    /** Target, actual and the guest's latest figures; null when statistics are off. */
    default dev.flint.devices.virtio.balloon.BalloonStatistics balloonStatistics() { return null; }

    /** The running machine's balloon as the API describes one (a restored machine's comes from its snapshot), or null. */
    default dev.flint.api.model.Balloon runningBalloon() { return null; }

    /**
     * Changes the running drive {@code driveId}'s rate limit: each bucket given replaces the old one with a new,
     * full one (or removes it, when it limits nothing); a null one stays. The API checked the figures.
     */
    default void updateDriveRateLimit(String driveId, dev.flint.devices.ratelimit.BucketConfig bandwidth,
                                      dev.flint.devices.ratelimit.BucketConfig ops) {
        throw new BackendException("this VMM cannot change the rate limits of a running microVM");
    }

    /** Like {@link #updateDriveRateLimit} for a network interface's receive and transmit limiters. */
    default void updateNetRateLimits(String ifaceId, dev.flint.devices.ratelimit.BucketConfig rxBandwidth,
                                     dev.flint.devices.ratelimit.BucketConfig rxOps,
                                     dev.flint.devices.ratelimit.BucketConfig txBandwidth,
                                     dev.flint.devices.ratelimit.BucketConfig txOps) {
        throw new BackendException("this VMM cannot change the rate limits of a running microVM");
    }

    /**
     * Writes a full snapshot of the paused machine (state file and memory file). {@code netIds} names the
     * network interfaces in the order of the spec the machine started from. Refusals are one-line
     * {@link BackendException}s.
     */
    default void createSnapshot(java.nio.file.Path state, java.nio.file.Path memory, java.util.List<String> netIds) {
        throw new BackendException("this VMM cannot take snapshots");
    }

    /**
     * As {@link #createSnapshot(java.nio.file.Path, java.nio.file.Path, java.util.List)}; with {@code diff} the
     * memory file holds only the pages written since the last snapshot (the machine tracks dirty pages:
     * {@link MachineSpec#trackDirtyPages()} or a load with tracking).
     */
    default void createSnapshot(java.nio.file.Path state, java.nio.file.Path memory, java.util.List<String> netIds, boolean diff) {
        if (diff) throw new BackendException("this VMM cannot take Diff snapshots");
        createSnapshot(state, memory, netIds);
    }

    /**
     * Instead of {@link #start}: builds the machine a snapshot describes, with guest memory mapped from
     * {@code memory}, and runs it if {@code resume} (else it stays paused). {@code tapOverrides} maps
     * interface ids to host TAP devices; {@code serialOut} is as in {@link MachineSpec#serialOut()}; {@code mmds} is
     * the API's metadata service, which takes the snapshot's MMDS settings and data if it has any. With
     * {@code trackDirtyPages} the loaded machine tracks the pages written from then on, for Diff snapshots.
     */
    default CompletableFuture<StopReason> loadSnapshot(java.nio.file.Path state, java.nio.file.Path memory, boolean resume,
                                                       Map<String, String> tapOverrides, java.nio.file.Path serialOut,
                                                       dev.flint.devices.mmds.Mmds mmds, boolean trackDirtyPages) {
        throw new BackendException("this VMM cannot load snapshots");
    }

    /** Presses Ctrl+Alt+Del on the guest's i8042 keyboard controller. */
    void sendCtrlAltDel();

    /**
     * Cumulative counters since start, named "group.metric" (e.g. "vcpu.exit_io_in",
     * "block.read_bytes"); the metrics writer reports the change since its last flush. Empty before start.
     */
    Map<String, Long> counters();

    /** The backend refuses an operation; the message is one line for the API client. */
    final class BackendException extends RuntimeException {
        public BackendException(String message) { super(message); }

        public BackendException(String message, Throwable cause) { super(message, cause); }
    }
}
