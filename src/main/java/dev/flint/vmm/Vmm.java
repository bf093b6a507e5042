package dev.flint.vmm;

import dev.flint.arch.x86.BootImage;
import dev.flint.arch.x86.BootLoader;
import dev.flint.arch.x86.BootSpec;
import dev.flint.arch.x86.CpuBootState;
import dev.flint.devices.mmds.Mmds;
import dev.flint.devices.virtio.block.DriveConfig;
import dev.flint.engine.Engine;
import dev.flint.engine.VirtualMachine;
import dev.flint.engine.VmSetup;
import dev.flint.machine.DirtyPages;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.StopReason;
import dev.flint.machine.state.SnapshotException;
import dev.flint.machine.state.StateFile;
import dev.flint.machine.state.StateReader;
import dev.flint.machine.state.StateWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One running machine: builds it from a {@link VmConfig} on an {@link Engine}, starts vCPU 0 and owns
 * its lifecycle until {@link #close}. Build order matters: the engine creates the VM over memory and the
 * {@link DeviceManager}'s buses first (it may add its own interrupt controllers to the buses), then the
 * device manager installs the devices against the engine's interrupt controller, then the kernel is
 * loaded and vCPU 0 started (or, on restore, the snapshot's state is taken back).
 */
public final class Vmm implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Vmm.class.getName());

    private final GuestMemory memory;
    private final StopSignal stops;
    private final VirtualMachine vm;
    private final DeviceManager devices;
    private final VmConfig config;
    private final String engineName;
    private boolean paused;
    private boolean closed;

    private Vmm(GuestMemory memory, StopSignal stops, VirtualMachine vm, DeviceManager devices,
                VmConfig config, String engineName) {
        this.config = config;
        this.engineName = engineName;
        this.memory = memory;
        this.stops = stops;
        this.vm = vm;
        this.devices = devices;
    }

    /**
     * Cumulative counters for metrics, in Firecracker's names where it has one. The "vcpu.exit_*" figures
     * count the device-register accesses Flint dispatched: under KVM each is a vCPU exit; under emu the same
     * accesses, minus those the engine serves itself (local APIC). Device figures are summed per group
     * ("block.", "entropy.").
     */
    public Map<String, Long> counters() {
        return devices.counters();
    }

    /**
     * Builds the machine and starts it. On failure everything built so far is released and the exception
     * (one-line message: config, boot, engine) propagates.
     */
    public static Vmm start(VmConfig config, Engine engine, Console console) {
        long startNanos = System.nanoTime();
        // A vhost-user back end in another process maps guest RAM, so RAM is a shared memfd then.
        boolean shared = config.drives().stream().anyMatch(d -> d.iface() == DriveConfig.Interface.VHOST_USER);
        boolean hugePages = hugePages(config);
        GuestMemory memory = shared ? GuestMemory.allocateShared(config.memoryBytes(), hugePages)
                : GuestMemory.allocate(config.memoryBytes(), hugePages);
        // Before the engine and the loader: the engine takes the log at creation, the kernel's pages count.
        if (config.trackDirtyPages()) memory.trackDirtyPages();
        return build(config, engine, console, memory, startNanos, vmm -> {
            BootLoader.BzImageEntry entry = engine.unpacksKernelOnHost() ? BootLoader.BzImageEntry.UNPACK_ON_HOST
                    : engine.entersCachedUnpackedKernel() ? BootLoader.BzImageEntry.UNPACKED_IF_CACHED
                    : BootLoader.BzImageEntry.DECOMPRESS_IN_GUEST;
            BootImage image = BootLoader.load(memory, new BootSpec(config.kernel(), config.initrd(), config.cmdline(), config.cpus()),
                    vmm.devices.platform(), entry);
            CpuBootState bsp = image.bsp();
            LOG.fine(() -> "kernel entered as " + image.format() + " at 0x" + Long.toHexString(image.entry()));
            LOG.fine(() -> String.format("starting %d vCPU(s), %d MiB, engine %s, rip=0x%x", config.cpus(),
                    config.memoryMib(), engine.name(), bsp.rip()));
            vmm.vm.start(bsp);
        });
    }

    /**
     * Whether guest RAM is advised onto transparent huge pages: yes ({@link GuestMemory#HUGE_PAGES}) unless the
     * machine has a balloon. The balloon hands back scattered 4 KiB pages; inside a huge page their RSS falls
     * at once but the host's free memory only when the kernel splits the page under memory pressure
     * (docs/block-path.md, Round 8: 2 GiB given back this way freed nothing measurable, against 1.6-1.8 GiB on
     * 4 KiB pages), so a machine with a balloon keeps RAM on 4 KiB pages and its balloon frees memory at once.
     */
    static boolean hugePages(VmConfig config) {
        boolean yes = GuestMemory.HUGE_PAGES && config.balloon() == null;
        if (GuestMemory.HUGE_PAGES && !yes) LOG.fine("guest RAM on 4 KiB pages: the machine has a balloon");
        return yes;
    }

    /**
     * Before a boot whose configuration is still being given (the API's pre-boot requests): warms up the
     * engine {@code engineName} selects ({@link Engines#warmUp}) and, if it did, loads and initializes the
     * classes every boot runs through (machine, devices, boot loader). Runs on the calling thread; never
     * fails, changes nothing a boot depends on, and does nothing for an engine that has nothing to warm (emu).
     */
    public static void warmUp(Engines engines, String engineName) {
        if (!engines.warmUp(engineName)) return;
        try {
            for (Class<?> c : List.of(DeviceManager.class, StopSignal.class, GuestMemory.class, dev.flint.sys.MappedMemory.class,
                    dev.flint.sys.MemoryAdvice.class, BootLoader.class, dev.flint.arch.x86.acpi.AcpiTables.class,
                    dev.flint.devices.legacy.LegacyDevices.class, dev.flint.devices.legacy.Serial16550.class,
                    dev.flint.devices.pci.PciHostBridge.class)) {
                Class.forName(c.getName(), true, c.getClassLoader());
            }
        } catch (ClassNotFoundException | RuntimeException | LinkageError e) {
            LOG.fine(() -> "warming up for the boot: " + e);
        }
    }

    /**
     * The build both a cold start and a restore go through: the engine's VM over {@code memory} and the
     * device manager's buses, then the devices of {@code config}, then {@code bringUp} (load a kernel and
     * start, or take back a snapshot). On failure everything built so far is released, memory included.
     */
    private static Vmm build(VmConfig config, Engine engine, Console console, GuestMemory memory, long startNanos,
                             java.util.function.Consumer<Vmm> bringUp) {
        StopSignal stops = new StopSignal();
        VirtualMachine vm = null;
        DeviceManager devices = new DeviceManager();
        try {
            vm = engine.create(new VmSetup(memory, devices.portIo(), devices.mmio(), config.cpus(), stops));
            devices.install(config, memory, vm.interrupts(), vm.fastPaths(), stops, console, startNanos);
            Vmm vmm = new Vmm(memory, stops, vm, devices, config, engine.name());
            bringUp.accept(vmm);
            return vmm;
        } catch (RuntimeException | Error e) {
            release(vm, devices, memory);
            throw e;
        }
    }

    /** Blocks until the machine stops: the guest powered off or reset, triple-faulted, or the VMM failed. */
    public StopReason awaitStop() throws InterruptedException {
        return stops.await();
    }

    /** Like {@link #awaitStop()}, giving up after {@code timeout}. */
    public Optional<StopReason> awaitStop(Duration timeout) throws InterruptedException {
        return stops.await(timeout);
    }

    /** Completes when the machine stops, for callers that must not block (the API's request threads). */
    public CompletableFuture<StopReason> stopped() {
        return stops.future();
    }

    /** Ends the machine as if powered off (the host asked, not the guest); {@link #awaitStop} returns. */
    public void stop() {
        stops.requestStop(new StopReason.PowerOff());
    }

    /**
     * Pauses the machine (Firecracker's PATCH /vm Paused): vCPUs stop at an instruction boundary, then
     * every device I/O thread finishes the request it was serving and holds. When this returns nothing
     * changes guest memory or device state until {@link #resume}: what a snapshot needs.
     */
    public synchronized void pause() {
        vm.pause();
        devices.pause();
        paused = true;
    }

    /** Devices first, so the first kick a resumed vCPU sends finds its I/O thread serving. */
    public synchronized void resume() {
        devices.resume();
        vm.resume();
        paused = false;
    }

    /** A Full snapshot; see {@link #snapshot(Path, Path, List, SnapshotType)}. */
    public synchronized void snapshot(Path statePath, Path memPath, List<String> netIds) {
        snapshot(statePath, memPath, netIds, SnapshotType.FULL);
    }

    /**
     * Writes a snapshot of the paused machine: its state to {@code statePath} (see
     * {@link dev.flint.machine.state.StateFile}) and its RAM, raw, to {@code memPath}: all of it
     * ({@link SnapshotType#FULL}) or only the pages written since the last snapshot, boot or load
     * ({@link SnapshotType#DIFF}, which needs dirty page tracking); see {@link dev.flint.machine.MemoryFile}.
     * {@code netIds} names the network interfaces in order, for network overrides on load. The machine
     * stays paused. A machine or engine that cannot be snapshotted is a one-line {@link SnapshotException}
     * before anything is written; a failed write leaves no state file. Either way the dirty page log keeps
     * every mark, so the next Diff still holds them.
     */
    public synchronized void snapshot(Path statePath, Path memPath, List<String> netIds, SnapshotType type) {
        if (closed) throw new SnapshotException("the microVM has stopped");
        if (!paused) throw new SnapshotException("the microVM must be paused to take a snapshot");
        DirtyPages dirty = memory.dirtyPages();
        if (type == SnapshotType.DIFF && dirty == null) {
            throw new SnapshotException("a Diff snapshot needs dirty page tracking: set track_dirty_pages when configuring "
                    + "the machine (or loading its snapshot)");
        }
        // The engine's own log (kvm's) joins the machine's; the marks are cleared only once all is written.
        // A Full snapshot needs no log: an engine that cannot hand one over still takes it.
        if (dirty != null) {
            try {
                vm.collectDirtyPages(dirty);
            } catch (SnapshotException e) {
                if (type == SnapshotType.DIFF) throw e;
            }
        }
        StateWriter state = new StateWriter();
        SnapshotConfig.save(state, config, netIds, devices.netMacs());
        vm.save(state);
        devices.save(state);
        try {
            if (type == SnapshotType.DIFF) {
                int pages = memory.writeDirtyTo(memPath);
                LOG.fine(() -> "Diff snapshot: " + pages + " dirty pages");
            } else {
                memory.writeTo(memPath);
            }
        } catch (IOException e) {
            throw new SnapshotException("cannot write memory file " + memPath + ": " + e.getMessage(), e);
        }
        StateFile.write(statePath, engineName, state);
        // As in Firecracker, any snapshot (Full too) starts the next Diff's interval.
        if (dirty != null) dirty.clear();
        LOG.info(() -> type + " snapshot written: " + statePath + " and " + memPath);
    }

    /**
     * Builds a machine from a snapshot instead of a kernel: the devices of the snapshot's configuration
     * (TAP devices replaced per {@code tapOverrides}, interface id → host device), guest RAM mapped
     * copy-on-write from {@code memPath}, every vCPU and device as the snapshot left it. The machine runs
     * at once if {@code resume}, else it stays paused until {@link #resume}.
     */
    public static Vmm restore(Path statePath, Path memPath, Engine engine, Console console, boolean resume,
                              Map<String, String> tapOverrides) {
        return restore(statePath, memPath, engine, console, resume, tapOverrides, null, false);
    }

    /**
     * Like {@link #restore(Path, Path, Engine, Console, boolean, Map)}, with {@code mmds} the metadata service
     * the restored network interfaces answer for (the API's own, so that {@code GET /mmds} and the guest see
     * the same store); it takes the snapshot's settings and data. Null: a service of the restored machine's own.
     * With {@code trackDirtyPages} the restored machine logs written pages from the load on, so its next Diff
     * snapshot holds what changed since this memory file (Firecracker's {@code track_dirty_pages} on load).
     */
    public static Vmm restore(Path statePath, Path memPath, Engine engine, Console console, boolean resume,
                              Map<String, String> tapOverrides, Mmds mmds, boolean trackDirtyPages) {
        StateReader state = StateFile.read(statePath, engine.name());
        VmConfig config = SnapshotConfig.restore(state, engine.name(), tapOverrides, mmds != null ? mmds : new Mmds(Integer.MAX_VALUE))
                .withDirtyPageTracking(trackDirtyPages);
        GuestMemory memory = GuestMemory.mapSnapshot(memPath, config.memoryBytes());
        if (trackDirtyPages) memory.trackDirtyPages(); // before the engine: its vCPUs take the log at creation
        return build(config, engine, console, memory, System.nanoTime(), vmm -> {
            // vCPUs first and held, devices paused: no interrupt a device raises while being restored is
            // then overwritten by the interrupt controllers' restore.
            vmm.vm.restore(state, true);
            vmm.devices.pause();
            vmm.devices.restore(state);
            vmm.paused = true;
            if (resume) vmm.resume();
        });
    }

    /**
     * Attaches a disk to a running machine as a new namespace of NVMe controller {@code controller} (0 is
     * the first {@code if=nvme} drive's) and returns the namespace ID. The guest's driver hears of it by a
     * Namespace Attribute Changed event and rescans: Linux shows a new {@code /dev/nvme<controller>n<ID>}
     * without a reboot. The image is opened and locked as at boot ({@code DiskImageException}, one line,
     * if it cannot be); an unknown controller is an IllegalArgumentException.
     */
    public synchronized int attachNvmeNamespace(int controller, DriveConfig drive) {
        if (closed) throw new IllegalStateException("the machine has stopped");
        return devices.attachNvmeNamespace(controller, drive);
    }

    /**
     * Detaches namespace {@code nsid} from NVMe controller {@code controller} of the running machine and closes
     * (unlocks) its image. The guest's driver is told by a Namespace Attribute Changed event and removes the
     * disk; I/O it sends there afterwards fails with Invalid Namespace. Unknown ones are IllegalArgumentException.
     */
    public synchronized void detachNvmeNamespace(int controller, int nsid) {
        if (closed) throw new IllegalStateException("the machine has stopped");
        devices.detachNvmeNamespace(controller, nsid);
    }

    /**
     * Hot-plugs {@code drive} as an NVMe controller of its own (serial = the drive's) into a free PCI slot of the
     * running machine and announces it through ACPI (Generic Event Device, Device Check): the guest's ACPI PCI
     * hot-plug driver scans the slot and the nvme driver binds, no reboot. Returns the slot. The image is opened
     * and locked as at boot ({@code DiskImageException}); a bus without a free slot is an IllegalStateException.
     */
    public synchronized int hotplugNvme(DriveConfig drive) {
        if (closed) throw new IllegalStateException("the machine has stopped");
        return devices.hotplugNvme(drive);
    }

    /**
     * Asks the guest to eject the function hot-plugged in {@code slot} (ACPI Eject Request). The function and its
     * file stay until the guest's {@code _EJ0} says it let go; see {@link #hotplugOccupied}.
     */
    public synchronized void requestEject(int slot) {
        if (closed) throw new IllegalStateException("the machine has stopped");
        devices.requestEject(slot);
    }

    /** Surprise removal of the function hot-plugged in {@code slot}: gone, its file closed, when this returns. */
    public synchronized void forceRemove(int slot) {
        if (closed) throw new IllegalStateException("the machine has stopped");
        devices.forceRemove(slot);
    }

    /** Like {@link #resizeNvmeNamespace} for the drive of the controller hot-plugged in {@code slot}. */
    public synchronized long resizeHotplugged(int slot) {
        if (closed) throw new IllegalStateException("the machine has stopped");
        return devices.resizeHotplugged(slot);
    }

    /**
     * The PCI slots of the configuration's {@link VmConfig#hotplugNvme} drives, in its order: they leave as
     * hot-plugged ones do ({@link #requestEject}, {@link #forceRemove}).
     */
    public List<Integer> bootHotplugSlots() {
        return devices.bootHotplugSlots();
    }

    /** Whether a hot-plugged function still occupies {@code slot}: false once it left the bus and its file is closed. */
    public boolean hotplugOccupied(int slot) {
        return devices.hotplugOccupied(slot);
    }

    /**
     * After the host grew the file of namespace {@code nsid} of NVMe controller {@code controller}: the namespace
     * takes the new size and the guest's driver is told by a Namespace Attribute Changed event (Linux re-reads
     * the capacity; the block device grows without a reboot). Returns the 512-byte blocks now.
     */
    public synchronized long resizeNvmeNamespace(int controller, int nsid) {
        if (closed) throw new IllegalStateException("the machine has stopped");
        return devices.resizeNvmeNamespace(controller, nsid);
    }

    /** The machine's balloon ({@code VmConfig.balloon}), if it has one: its target, actual size and statistics. */
    public Optional<dev.flint.devices.virtio.balloon.VirtioBalloon> balloon() {
        return Optional.ofNullable(devices.balloon());
    }

    /**
     * Changes a drive's rate limit while the guest runs ({@code PATCH /drives}): {@code drive} is its index in
     * the configuration's drives, then in the order drives were attached; each bucket given replaces the old
     * one with a full new one (one that limits nothing removes it), a null one stays. Requests held back go
     * as soon as the new limit lets them. An unknown index is an IllegalArgumentException.
     */
    public synchronized void updateDriveRateLimit(int drive, dev.flint.devices.ratelimit.BucketConfig bandwidth,
                                                  dev.flint.devices.ratelimit.BucketConfig ops) {
        if (closed) throw new IllegalStateException("the machine has stopped");
        devices.updateDriveRateLimit(drive, bandwidth, ops);
    }

    /** Like {@link #updateDriveRateLimit} for network interface {@code net} (configuration order), both directions. */
    public synchronized void updateNetRateLimits(int net, dev.flint.devices.ratelimit.BucketConfig rxBandwidth,
                                                 dev.flint.devices.ratelimit.BucketConfig rxOps,
                                                 dev.flint.devices.ratelimit.BucketConfig txBandwidth,
                                                 dev.flint.devices.ratelimit.BucketConfig txOps) {
        if (closed) throw new IllegalStateException("the machine has stopped");
        devices.updateNetRateLimits(net, rxBandwidth, rxOps, txBandwidth, txOps);
    }

    /** Sends Ctrl-Alt-Del through the i8042 keyboard controller; a Linux guest then reboots, ending the VM. */
    public void sendCtrlAltDel() { devices.sendCtrlAltDel(); }

    /** Stops the vCPUs, then releases devices and guest memory (vCPUs first: they may still touch both). */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        stops.requestStop(new StopReason.PowerOff());
        release(vm, devices, memory);
    }

    private static void release(VirtualMachine vm, DeviceManager devices, GuestMemory memory) {
        if (vm != null) {
            quietly("stop the vCPUs", vm::stop);
            quietly("close the engine", vm::close);
        }
        if (devices != null) quietly("close the devices", devices::close);
        quietly("free guest memory", memory::close);
    }

    /** Teardown continues past a failing step: leaking the rest would be worse than the first error. */
    private static void quietly(String what, Runnable step) {
        try {
            step.run();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "cannot " + what + ": " + e.getMessage(), e);
        }
    }
}
