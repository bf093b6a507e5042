package dev.flint.cloud;

import dev.flint.cloud.compute.InstanceRuntime;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * An instance runtime with no machines: a launch "boots" at once (the boot report comes from another
 * thread, as a real guest's would), a shutdown request "powers off" at once unless told to ignore it. It
 * checks what a real runtime would rely on: the root volume exists when launched, no instance is launched
 * twice while running.
 */
final class FakeRuntime implements InstanceRuntime {
    final Listener listener;
    final Set<String> running = ConcurrentHashMap.newKeySet();
    final Map<String, LaunchSpec> launched = new ConcurrentHashMap<>();
    final List<String> events = new CopyOnWriteArrayList<>();
    final Map<String, byte[]> consoles = new ConcurrentHashMap<>();
    /** The instances the control plane told the runtime to forget. */
    final Set<String> forgotten = ConcurrentHashMap.newKeySet();
    final List<String> survivors;
    volatile long capacityMib;
    volatile boolean ignoreShutdown;
    volatile boolean holdBoot;
    volatile String failLaunchOf;
    /** The packet filter the control plane asked for last (null before the first). */
    volatile dev.flint.cloud.compute.FirewallPlan firewall;
    private final ExecutorService reports = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "fake-runtime");
        t.setDaemon(true);
        return t;
    });

    FakeRuntime(Listener listener, long capacityMib, List<String> survivors) {
        this.listener = listener;
        this.capacityMib = capacityMib;
        this.survivors = new ArrayList<>(survivors);
    }

    @Override
    public void launch(LaunchSpec spec) throws RuntimeFailure {
        if (spec.instanceId().equals(failLaunchOf)) throw new RuntimeFailure("fake: refused to launch " + spec.instanceId());
        if (!Files.isRegularFile(spec.rootVolume())) throw new RuntimeFailure("fake: no root volume at " + spec.rootVolume());
        if (!running.add(spec.instanceId())) throw new IllegalStateException("launched twice while running: " + spec.instanceId());
        launched.put(spec.instanceId(), spec);
        events.add("launch " + spec.instanceId());
        consoles.merge(spec.instanceId(), ("[fake] booting " + spec.instanceId() + " at " + spec.privateIp() + "\n").getBytes(StandardCharsets.UTF_8),
                (a, b) -> {
                    byte[] both = new byte[a.length + b.length];
                    System.arraycopy(a, 0, both, 0, a.length);
                    System.arraycopy(b, 0, both, a.length, b.length);
                    return both;
                });
        if (!holdBoot) reports.execute(() -> listener.booted(spec.instanceId()));
    }

    /** Returns once every report handed to the listener so far has been delivered (they go out in order). */
    void drain() throws Exception {
        reports.submit(() -> { }).get();
    }

    void boot(String instanceId) {
        reports.execute(() -> listener.booted(instanceId));
    }

    /** Volumes hot-plugged per running instance, by volume id; a refusal reason makes every hot-plug fail. */
    final Map<String, Set<String>> hotPlugged = new ConcurrentHashMap<>();
    volatile String refuseHotPlug;

    @Override
    public void attachVolume(String instanceId, Disk disk) throws RuntimeFailure {
        if (refuseHotPlug != null) throw new RuntimeFailure(refuseHotPlug);
        if (!running.contains(instanceId)) throw new RuntimeFailure("fake: " + instanceId + " is not running");
        if (!Files.isRegularFile(disk.file())) throw new RuntimeFailure("fake: no volume file " + disk.file());
        if (!hotPlugged.computeIfAbsent(instanceId, k -> ConcurrentHashMap.newKeySet()).add(disk.volumeId())) {
            throw new IllegalStateException("attached twice: " + disk.volumeId());
        }
        events.add("attach " + instanceId + " " + disk.volumeId());
    }

    /** While set, a detach (or a resume) waits for it to open: the test can look at the state in between. */
    volatile java.util.concurrent.CountDownLatch holdDetach;
    volatile java.util.concurrent.CountDownLatch holdResume;
    volatile String refuseDetach;

    private static void await(java.util.concurrent.CountDownLatch gate) {
        if (gate == null) return;
        try {
            if (!gate.await(2, java.util.concurrent.TimeUnit.MINUTES)) throw new IllegalStateException("fake: the test never opened the gate");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * While set, the guest has not ejected: a plain detach waits until the gate opens (the guest let go), a
     * forced detach of the same volume comes, or the instance stops, as {@code VmmRuntime}'s does.
     */
    volatile java.util.concurrent.CountDownLatch guestHolds;
    /** Volumes whose plain detach is waiting for the guest. */
    final Set<String> waitingForGuest = ConcurrentHashMap.newKeySet();
    private final Set<String> forcedOut = ConcurrentHashMap.newKeySet();

    @Override
    public void forceDetachVolume(String instanceId, Disk disk) throws RuntimeFailure {
        if (refuseDetach != null) throw new RuntimeFailure(refuseDetach);
        unplug(instanceId, disk, "force-detach ");
        if (waitingForGuest.contains(disk.volumeId())) forcedOut.add(disk.volumeId());
    }

    @Override
    public void detachVolume(String instanceId, Disk disk) throws RuntimeFailure {
        await(holdDetach);
        if (refuseDetach != null) throw new RuntimeFailure(refuseDetach);
        java.util.concurrent.CountDownLatch guest = guestHolds;
        if (guest != null) {
            waitingForGuest.add(disk.volumeId());
            try {
                while (guest.getCount() > 0 && !forcedOut.contains(disk.volumeId())) {
                    if (!running.contains(instanceId)) throw new RuntimeFailure("fake: " + instanceId + " stopped");
                    guest.await(10, java.util.concurrent.TimeUnit.MILLISECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new RuntimeFailure("fake: interrupted");
            } finally {
                waitingForGuest.remove(disk.volumeId());
            }
            if (forcedOut.remove(disk.volumeId())) return; // the forced detach did the unplug
        }
        unplug(instanceId, disk, "detach ");
    }

    private void unplug(String instanceId, Disk disk, String event) throws RuntimeFailure {
        if (!running.contains(instanceId)) throw new RuntimeFailure("fake: " + instanceId + " is not running");
        LaunchSpec spec = launched.get(instanceId);
        boolean atLaunch = spec != null && spec.dataVolumes().contains(disk);
        Set<String> plugged = hotPlugged.computeIfAbsent(instanceId, k -> ConcurrentHashMap.newKeySet());
        if (!plugged.remove(disk.volumeId()) && !atLaunch) throw new IllegalStateException("detached but never attached: " + disk.volumeId());
        events.add(event + instanceId + " " + disk.volumeId());
    }

    @Override
    public void resizeVolume(String instanceId, Disk disk) throws RuntimeFailure {
        if (!running.contains(instanceId)) throw new RuntimeFailure("fake: " + instanceId + " is not running");
        try {
            events.add("resize " + instanceId + " " + disk.volumeId() + " " + Files.size(disk.file()));
        } catch (java.io.IOException e) {
            throw new RuntimeFailure("fake: " + e.getMessage());
        }
    }

    @Override
    public void pause(String instanceId) throws RuntimeFailure {
        if (!running.contains(instanceId)) throw new RuntimeFailure("fake: " + instanceId + " is not running");
        events.add("pause " + instanceId);
    }

    @Override
    public void resume(String instanceId) {
        await(holdResume);
        events.add("resume " + instanceId);
    }

    @Override
    public void applyFirewall(dev.flint.cloud.compute.FirewallPlan plan) {
        firewall = plan;
    }

    @Override
    public void requestShutdown(String instanceId) {
        events.add("shutdown " + instanceId);
        if (!ignoreShutdown) end(instanceId, "powered off");
    }

    @Override
    public void kill(String instanceId) {
        events.add("kill " + instanceId);
        end(instanceId, "killed");
    }

    /** The VMM ends on its own (a crash, or the guest powered off). */
    /** The guest reset its machine: the VMM ends and says so, as Flint's does on a reboot from inside. */
    void guestReset(String instanceId) {
        hotPlugged.remove(instanceId);
        if (running.remove(instanceId)) reports.execute(() -> listener.reset(instanceId, "the guest rebooted"));
    }

    void end(String instanceId, String detail) {
        hotPlugged.remove(instanceId);
        if (running.remove(instanceId)) reports.execute(() -> listener.exited(instanceId, detail));
    }

    @Override
    public boolean isRunning(String instanceId) {
        return running.contains(instanceId);
    }

    @Override
    public Optional<byte[]> consoleOutput(String instanceId) {
        return Optional.ofNullable(consoles.get(instanceId));
    }

    @Override
    public void forget(String instanceId) {
        forgotten.add(instanceId);
        consoles.remove(instanceId);
    }

    @Override
    public List<String> adoptSurvivors() {
        running.addAll(survivors);
        return List.copyOf(survivors);
    }

    @Override
    public long memoryCapacityMib() {
        return capacityMib;
    }

    @Override
    public void close() {
        reports.shutdownNow();
    }
}
