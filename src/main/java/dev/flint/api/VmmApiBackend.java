package dev.flint.api;

import dev.flint.arch.x86.BootException;
import dev.flint.devices.virtio.balloon.BalloonConfig;
import dev.flint.devices.virtio.balloon.BalloonException;
import dev.flint.devices.virtio.balloon.BalloonStatistics;
import dev.flint.devices.virtio.balloon.VirtioBalloon;
import dev.flint.devices.vhostuser.VhostUserException;
import dev.flint.devices.virtio.block.DriveConfig;
import dev.flint.devices.virtio.block.DiskImage;
import dev.flint.devices.virtio.block.DiskImageException;
import dev.flint.devices.virtio.net.MacAddress;
import dev.flint.devices.virtio.net.NetConfig;
import dev.flint.devices.virtio.net.TapException;
import dev.flint.engine.EngineException;
import dev.flint.machine.StopReason;
import dev.flint.vmm.Console;
import dev.flint.vmm.Engines;
import dev.flint.vmm.VmConfig;
import dev.flint.devices.virtio.vsock.VsockConfig;
import dev.flint.devices.virtio.vsock.VsockException;
import dev.flint.vmm.VmConfigException;
import dev.flint.vmm.Vmm;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Map;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.logging.Logger;

/**
 * The API's backend on Flint's real VMM: translates a {@link MachineSpec} into a {@link VmConfig} and
 * runs a {@link Vmm} on the engine {@code --engine} named. The guest console is the one the CLI passes
 * (the process's stdin and stdout, as with Firecracker) unless {@code PUT /serial} named an output file.
 */
public final class VmmApiBackend implements VmmBackend {
    private static final Logger LOG = Logger.getLogger(VmmApiBackend.class.getName());

    private final Engines engines;
    private final String engineName;
    private final Console console;
    /** The isa-debug-exit device's I/O port ({@code flint vmm --debug-exit}), or -1 for none. */
    private final int debugExitPort;
    private volatile Vmm vmm;
    /** Drive IDs in the machine's drive order (the configuration's, then attached ones) and interface IDs in order. */
    private final List<String> driveIds = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final List<String> netIds = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** The started machine's drives in hot-pluggable slots from boot: their slots by drive id. */
    private final Map<String, Integer> bootSlots = new java.util.concurrent.ConcurrentHashMap<>();

    /** @param engineName {@code auto}, {@code kvm} or {@code emu} */
    public VmmApiBackend(Engines engines, String engineName, Console console) {
        this(engines, engineName, -1, console);
    }

    /** @param debugExitPort the I/O port of an isa-debug-exit device, or -1 for none */
    public VmmApiBackend(Engines engines, String engineName, int debugExitPort, Console console) {
        this.debugExitPort = debugExitPort;
        this.engines = engines;
        this.engineName = engineName;
        this.console = console;
    }

    /** Set once the boot warm-up thread has been started. */
    private final java.util.concurrent.atomic.AtomicBoolean warming = new java.util.concurrent.atomic.AtomicBoolean();

    /**
     * Warms up the engine and the boot path on a daemon thread, once ({@link Vmm#warmUp}). On the kvm engine
     * under a software CPU (nested), binding libc through FFM and loading the engine's and devices' code
     * were most of InstanceStart's time; done here, they overlap the client's remaining requests.
     */
    @Override
    public void prepareForBoot() {
        if (vmm != null || !warming.compareAndSet(false, true)) return;
        Thread.ofPlatform().daemon().name("flint-boot-warmup").start(() -> Vmm.warmUp(engines, engineName));
    }

    /** Drives become virtio-blk disks, network interfaces virtio-net on their TAP, the entropy device virtio-rng. */
    @Override
    public Capabilities capabilities() { return new Capabilities(true, true, true); }

    @Override
    public synchronized CompletableFuture<StopReason> start(MachineSpec spec) {
        if (vmm != null) throw new BackendException("the microVM is already running");
        Console guest = guestConsole(spec);
        Vmm started;
        try {
            // The spec lists the root drive first, so it becomes /dev/vda as Firecracker's boot args expect. Drives
            // for hot-pluggable slots go after every other device (the slots those leave free are the hot-pluggable ones).
            List<DriveConfig> drives = spec.drives().stream().filter(d -> !d.hotpluggable()).map(VmmApiBackend::driveConfig).toList();
            List<DriveConfig> hotpluggable = spec.drives().stream().filter(MachineSpec.DriveSpec::hotpluggable)
                    .map(VmmApiBackend::driveConfig).toList();
            List<NetConfig> nets = spec.networkInterfaces().stream().map(VmmApiBackend::netConfig).toList();
            VmConfig config = VmConfig.builder(spec.kernel()).initrd(spec.initrd()).cmdline(spec.cmdline())
                    .cpus(spec.vcpus()).memoryMib(spec.memoryMib()).engine(engineName).drives(drives)
                    .rng(spec.entropy()).bootTimer(spec.bootTimer()).nets(nets)
                    .vsock(spec.vsock() == null ? null : new VsockConfig(spec.vsock().guestCid(), spec.vsock().udsPath()))
                    .emptyNvmeControllers(spec.emptyNvmeControllers()).debugExitPort(debugExitPort).build();
            if (spec.balloon() != null) {
                MachineSpec.BalloonSpec b = spec.balloon();
                config = config.withBalloon(new BalloonConfig(b.amountMib(), b.deflateOnOom(), b.statsPollingIntervalS()));
            }
            if (spec.trackDirtyPages()) config = config.withDirtyPageTracking(true);
            if (!hotpluggable.isEmpty()) config = config.withHotplugNvme(hotpluggable);
            started = Vmm.start(config, engines.select(engineName), guest);
        } catch (VmConfigException | EngineException | BootException | DiskImageException | TapException | VsockException
                 | BalloonException | VhostUserException e) {
            release(guest);
            throw new BackendException(e.getMessage(), e);
        }
        vmm = started;
        // In the machine's plugging order (the rate limits' index): the other drives, then the hot-pluggable ones.
        spec.drives().stream().filter(d -> !d.hotpluggable()).forEach(d -> driveIds.add(d.id()));
        List<Integer> slots = started.bootHotplugSlots();
        bootSlots.clear();
        int i = 0;
        for (MachineSpec.DriveSpec d : spec.drives()) {
            if (!d.hotpluggable()) continue;
            driveIds.add(d.id());
            bootSlots.put(d.id(), slots.get(i++));
        }
        spec.networkInterfaces().forEach(n -> netIds.add(n.id()));
        // Once stopped, the machine's memory and devices go. Not on the completing thread: that may be a
        // vCPU thread, and closing the Vmm joins the vCPU threads.
        return started.stopped().whenCompleteAsync((reason, failure) -> {
            started.close();
            release(guest);
        }, task -> Thread.ofPlatform().name("flint-vmm-release").start(task));
    }

    /** An NVMe drive's serial is its drive_id when that fits the 20 bytes of the NVMe serial field. */
    private static DriveConfig driveConfig(MachineSpec.DriveSpec d) {
        if (d.vhostUser()) return new DriveConfig(d.path(), d.readOnly(), DriveConfig.Interface.VHOST_USER, null, d.rateLimit());
        if (!d.nvme()) return new DriveConfig(d.path(), d.readOnly(), DriveConfig.Interface.VIRTIO, null, d.rateLimit());
        String serial = d.id().length() <= DriveConfig.MAX_SERIAL ? d.id() : null;
        return new DriveConfig(d.path(), d.readOnly(), DriveConfig.Interface.NVME, serial, d.rateLimit());
    }

    /** The API checked name, MAC and MTU already; a refusal here is a bug, reported as a start failure. */
    private static NetConfig netConfig(MachineSpec.NetSpec n) {
        try {
            return new NetConfig(n.hostDevName(), n.guestMac() == null ? null : MacAddress.parse(n.guestMac()), n.mtu(), n.mmds(),
                    n.rxRateLimit(), n.txRateLimit());
        } catch (IllegalArgumentException e) {
            throw new VmConfigException("network interface " + n.id() + ": " + e.getMessage());
        }
    }

    private Console guestConsole(MachineSpec spec) { return guestConsole(spec.serialOut()); }

    private Console guestConsole(java.nio.file.Path serialOut) {
        if (serialOut == null) return console;
        try {
            OutputStream out = new FileOutputStream(serialOut.toFile(), true);
            return new Console(console.in(), out);
        } catch (IOException e) {
            throw new BackendException("cannot open serial_out_path " + serialOut + ": " + e.getMessage(), e);
        }
    }

    /** Closes the serial output file this backend opened; the CLI's console is the CLI's to close. */
    private void release(Console guest) {
        if (guest == console) return;
        try {
            guest.out().close();
        } catch (IOException e) {
            LOG.warning("cannot close the serial output: " + e.getMessage());
        }
    }

    @Override
    public void pause() { running().pause(); }

    @Override
    public void createSnapshot(java.nio.file.Path state, java.nio.file.Path memory, List<String> netIds) {
        createSnapshot(state, memory, netIds, false);
    }

    @Override
    public void createSnapshot(java.nio.file.Path state, java.nio.file.Path memory, List<String> netIds, boolean diff) {
        try {
            running().snapshot(state, memory, netIds, diff ? dev.flint.vmm.SnapshotType.DIFF : dev.flint.vmm.SnapshotType.FULL);
        } catch (dev.flint.machine.state.SnapshotException e) {
            throw new BackendException(e.getMessage(), e);
        }
    }

    @Override
    public synchronized CompletableFuture<StopReason> loadSnapshot(java.nio.file.Path state, java.nio.file.Path memory,
                                                                   boolean resume, Map<String, String> tapOverrides,
                                                                   java.nio.file.Path serialOut,
                                                                   dev.flint.devices.mmds.Mmds mmds, boolean trackDirtyPages) {
        if (vmm != null) throw new BackendException("the microVM is already running");
        Console guest = guestConsole(serialOut);
        Vmm restored;
        try {
            var engine = engines.select(engineName);
            restored = Vmm.restore(state, memory, engine, guest, resume, tapOverrides, mmds, trackDirtyPages);
        } catch (dev.flint.machine.state.SnapshotException | dev.flint.machine.GuestMemoryFileException | VmConfigException
                 | EngineException | DiskImageException | TapException | VsockException e) {
            release(guest);
            throw new BackendException(e.getMessage(), e);
        }
        vmm = restored;
        return restored.stopped().whenCompleteAsync((reason, failure) -> {
            restored.close();
            release(guest);
        }, task -> Thread.ofPlatform().name("flint-vmm-release").start(task));
    }

    @Override
    public int attachNvme(int controller, MachineSpec.DriveSpec drive) {
        try {
            int nsid = running().attachNvmeNamespace(controller, driveConfig(drive));
            driveIds.add(drive.id());
            return nsid;
        } catch (DiskImageException | IllegalArgumentException | IllegalStateException e) {
            throw new BackendException(e.getMessage(), e);
        }
    }

    @Override
    public int hotplugNvme(MachineSpec.DriveSpec drive) {
        try {
            int slot = running().hotplugNvme(driveConfig(drive));
            driveIds.add(drive.id());
            return slot;
        } catch (DiskImageException | IllegalArgumentException | IllegalStateException e) {
            throw new BackendException(e.getMessage(), e);
        }
    }

    @Override
    public Map<String, Integer> bootHotplugSlots() { return Map.copyOf(bootSlots); }

    @Override
    public void requestEject(int slot) {
        try {
            running().requestEject(slot);
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new BackendException(e.getMessage(), e);
        }
    }

    @Override
    public void forceRemove(int slot) {
        try {
            running().forceRemove(slot);
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new BackendException(e.getMessage(), e);
        }
    }

    @Override
    public long resizeHotplugged(int slot) {
        try {
            return running().resizeHotplugged(slot) * DiskImage.SECTOR;
        } catch (DiskImageException | IllegalArgumentException | IllegalStateException e) {
            throw new BackendException(e.getMessage(), e);
        }
    }

    @Override
    public boolean hotplugOccupied(int slot) {
        Vmm vmm = this.vmm;
        return vmm != null && vmm.hotplugOccupied(slot);
    }

    @Override
    public long resizeNvme(int controller, int nsid) {
        try {
            return running().resizeNvmeNamespace(controller, nsid) * DiskImage.SECTOR;
        } catch (DiskImageException | IllegalArgumentException | IllegalStateException e) {
            throw new BackendException(e.getMessage(), e);
        }
    }

    @Override
    public void detachNvme(int controller, int nsid) {
        try {
            running().detachNvmeNamespace(controller, nsid);
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new BackendException(e.getMessage(), e);
        }
    }

    @Override
    public void resume() { running().resume(); }

    @Override
    public void updateDriveRateLimit(String driveId, dev.flint.devices.ratelimit.BucketConfig bandwidth,
                                     dev.flint.devices.ratelimit.BucketConfig ops) {
        int index = driveIds.lastIndexOf(driveId); // a drive detached and attached again: its newest plugging
        if (index < 0) throw new BackendException("no drive " + driveId + " in the running microVM");
        try {
            running().updateDriveRateLimit(index, bandwidth, ops);
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new BackendException(e.getMessage(), e);
        }
    }

    @Override
    public void updateNetRateLimits(String ifaceId, dev.flint.devices.ratelimit.BucketConfig rxBandwidth,
                                    dev.flint.devices.ratelimit.BucketConfig rxOps,
                                    dev.flint.devices.ratelimit.BucketConfig txBandwidth,
                                    dev.flint.devices.ratelimit.BucketConfig txOps) {
        int index = netIds.indexOf(ifaceId);
        if (index < 0) throw new BackendException("no network interface " + ifaceId + " in the running microVM");
        try {
            running().updateNetRateLimits(index, rxBandwidth, rxOps, txBandwidth, txOps);
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new BackendException(e.getMessage(), e);
        }
    }

    @Override
    public void sendCtrlAltDel() { running().sendCtrlAltDel(); }

    @Override
    public void setBalloonTarget(long amountMib) {
        try {
            balloon().setTarget(amountMib);
        } catch (BalloonException e) {
            throw new BackendException(e.getMessage(), e);
        }
    }

    @Override
    public void setBalloonStatsInterval(int seconds) {
        try {
            balloon().setStatsPollingInterval(seconds);
        } catch (BalloonException e) {
            throw new BackendException(e.getMessage(), e);
        }
    }

    @Override
    public BalloonStatistics balloonStatistics() { return balloon().statistics(); }

    @Override
    public synchronized dev.flint.api.model.Balloon runningBalloon() {
        if (vmm == null) return null;
        return vmm.balloon().map(b -> new dev.flint.api.model.Balloon(b.targetMib(), b.deflateOnOom(), b.statsPollingIntervalS()))
                .orElse(null);
    }

    private VirtioBalloon balloon() {
        return running().balloon().orElseThrow(() -> new BackendException("the microVM has no balloon device"));
    }

    /** The running machine's vCPU-exit and device counters (see {@link Vmm#counters()}); empty before start. */
    @Override
    public Map<String, Long> counters() {
        Vmm v = vmm;
        return v == null ? Map.of() : v.counters();
    }

    private Vmm running() {
        Vmm v = vmm;
        if (v == null) throw new BackendException("the microVM is not running");
        return v;
    }
}
