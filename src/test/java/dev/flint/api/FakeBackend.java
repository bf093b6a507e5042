package dev.flint.api;

import dev.flint.machine.StopReason;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/** A VMM that records what the API asked of it; tests stop the "guest" by completing {@link #running}. */
final class FakeBackend implements VmmBackend {
    final List<String> calls = new ArrayList<>();
    volatile Capabilities capabilities = Capabilities.NONE;
    volatile MachineSpec started;
    volatile String refuseStart;
    final CompletableFuture<StopReason> running = new CompletableFuture<>();

    @Override
    public Capabilities capabilities() { return capabilities; }

    @Override
    public synchronized CompletableFuture<StopReason> start(MachineSpec spec) {
        if (refuseStart != null) throw new BackendException(refuseStart);
        calls.add("start");
        started = spec;
        for (MachineSpec.DriveSpec d : spec.drives()) {
            if (!d.hotpluggable()) continue;
            int slot = nextSlot++;
            plugged.add(slot);
            bootSlots.put(d.id(), slot);
            calls.add("boot-hotplug " + slot + " " + d.id());
        }
        return running;
    }

    /** The drives the started spec put in hot-pluggable slots, with the slots this fake gave them. */
    private final Map<String, Integer> bootSlots = new java.util.HashMap<>();

    @Override
    public synchronized Map<String, Integer> bootHotplugSlots() { return Map.copyOf(bootSlots); }

    /** Set to make attachNvme refuse, as the real backend does when another VM holds the image's lock. */
    volatile String refuseAttach;
    private int nextNamespace = 1;

    @Override
    public synchronized int attachNvme(int controller, MachineSpec.DriveSpec drive) {
        if (refuseAttach != null) throw new BackendException(refuseAttach);
        calls.add("attach-nvme " + controller + " " + drive.id() + " " + drive.path() + (drive.readOnly() ? " ro" : ""));
        return nextNamespace++;
    }

    @Override
    public synchronized void detachNvme(int controller, int nsid) {
        calls.add("detach-nvme " + controller + " " + nsid);
    }

    /** PCI slots holding a hot-plugged controller; the test plays the guest's eject with {@link #guestEjects}. */
    private final java.util.Set<Integer> plugged = new java.util.TreeSet<>();
    private int nextSlot = 2;

    @Override
    public synchronized int hotplugNvme(MachineSpec.DriveSpec drive) {
        if (refuseAttach != null) throw new BackendException(refuseAttach);
        int slot = nextSlot++;
        plugged.add(slot);
        calls.add("hotplug " + slot + " " + drive.id());
        return slot;
    }

    @Override
    public synchronized void requestEject(int slot) {
        if (!plugged.contains(slot)) throw new BackendException("nothing hot-plugged in PCI slot " + slot);
        calls.add("eject-request " + slot);
    }

    @Override
    public synchronized void forceRemove(int slot) {
        if (!plugged.remove(slot)) throw new BackendException("nothing hot-plugged in PCI slot " + slot);
        calls.add("force-remove " + slot);
    }

    @Override
    public synchronized boolean hotplugOccupied(int slot) { return plugged.contains(slot); }

    @Override
    public synchronized long resizeHotplugged(int slot) {
        calls.add("resize-hotplugged " + slot);
        return 1L << 30;
    }

    /** The guest ran the slot's _EJ0: the function is gone and its file closed. */
    synchronized void guestEjects(int slot) { plugged.remove(slot); }

    @Override
    public synchronized long resizeNvme(int controller, int nsid) {
        calls.add("resize-nvme " + controller + " " + nsid);
        return 1L << 30;
    }

    @Override
    public synchronized void updateDriveRateLimit(String driveId, dev.flint.devices.ratelimit.BucketConfig bandwidth,
                                                  dev.flint.devices.ratelimit.BucketConfig ops) {
        calls.add("drive-limit " + driveId + " bandwidth=" + bandwidth + " ops=" + ops);
    }

    @Override
    public synchronized void updateNetRateLimits(String ifaceId, dev.flint.devices.ratelimit.BucketConfig rxBandwidth,
                                                 dev.flint.devices.ratelimit.BucketConfig rxOps,
                                                 dev.flint.devices.ratelimit.BucketConfig txBandwidth,
                                                 dev.flint.devices.ratelimit.BucketConfig txOps) {
        calls.add("net-limit " + ifaceId + " rx=" + rxBandwidth + "," + rxOps + " tx=" + txBandwidth + "," + txOps);
    }

    @Override
    public synchronized void pause() { calls.add("pause"); }

    @Override
    public synchronized void resume() { calls.add("resume"); }

    @Override
    public synchronized void sendCtrlAltDel() { calls.add("ctrl-alt-del"); }

    /** Set to make the balloon refuse a new target, as the real one does before the guest's driver runs. */
    volatile String refuseBalloon;
    private long balloonTargetPages;

    @Override
    public synchronized void setBalloonTarget(long amountMib) {
        if (refuseBalloon != null) throw new BackendException(refuseBalloon);
        calls.add("balloon-target " + amountMib);
        balloonTargetPages = amountMib * 256;
    }

    @Override
    public synchronized void setBalloonStatsInterval(int seconds) { calls.add("balloon-stats-interval " + seconds); }

    /** A guest that holds half its target and reported its memory. */
    @Override
    public synchronized dev.flint.devices.virtio.balloon.BalloonStatistics balloonStatistics() {
        if (started == null || started.balloon() == null || started.balloon().statsPollingIntervalS() == 0) return null;
        long target = balloonTargetPages != 0 ? balloonTargetPages : started.balloon().amountMib() * 256;
        return new dev.flint.devices.virtio.balloon.BalloonStatistics(target, target / 2,
                Map.of("total_memory", 128L << 20, "free_memory", 100L << 20));
    }

    @Override
    public synchronized void createSnapshot(java.nio.file.Path state, java.nio.file.Path memory, List<String> netIds) {
        createSnapshot(state, memory, netIds, false);
    }

    @Override
    public synchronized void createSnapshot(java.nio.file.Path state, java.nio.file.Path memory, List<String> netIds, boolean diff) {
        calls.add((diff ? "snapshot-diff " : "snapshot ") + state + " " + memory + " " + netIds);
    }

    @Override
    public synchronized CompletableFuture<StopReason> loadSnapshot(java.nio.file.Path state, java.nio.file.Path memory,
                                                                   boolean resume, Map<String, String> tapOverrides,
                                                                   java.nio.file.Path serialOut,
                                                                   dev.flint.devices.mmds.Mmds mmds, boolean trackDirtyPages) {
        if (refuseStart != null) throw new BackendException(refuseStart);
        calls.add("load " + state + " " + memory + (resume ? " resume" : "") + (trackDirtyPages ? " track" : "") + " " + tapOverrides);
        return running;
    }

    @Override
    public Map<String, Long> counters() {
        return started == null ? Map.of() : Map.of("vcpu.exit_io_in", 42L, "vcpu.exit_mmio_write", 7L);
    }

    synchronized List<String> calls() { return List.copyOf(calls); }
}
