package dev.flint.vmm;

import dev.flint.arch.x86.Layout;
import dev.flint.arch.x86.PciHotplugInfo;
import dev.flint.arch.x86.PlatformInfo;
import dev.flint.devices.legacy.AcpiPowerRegisters;
import dev.flint.devices.legacy.BootTimer;
import dev.flint.devices.legacy.DebugExit;
import dev.flint.devices.legacy.LegacyDevices;
import dev.flint.devices.mmds.Mmds;
import dev.flint.devices.nvme.NvmeIdentity;
import dev.flint.devices.nvme.NvmePciFunction;
import dev.flint.devices.pci.PciHostBridge;
import dev.flint.devices.pci.PciHotplugController;
import dev.flint.devices.ratelimit.BucketConfig;
import dev.flint.devices.virtio.VirtioPciDevice;
import dev.flint.devices.virtio.balloon.VirtioBalloon;
import dev.flint.devices.vhostuser.VhostUserBlockFrontEnd;
import dev.flint.devices.virtio.block.DriveConfig;
import dev.flint.devices.virtio.block.VirtioBlock;
import dev.flint.devices.virtio.net.NetConfig;
import dev.flint.devices.virtio.net.VirtioNet;
import dev.flint.devices.virtio.rng.VirtioRng;
import dev.flint.devices.virtio.vsock.VirtioVsock;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.InterruptController;
import dev.flint.machine.IoFastPaths;
import dev.flint.machine.SystemControl;
import dev.flint.machine.bus.Bus;
import dev.flint.machine.state.SnapshotException;
import dev.flint.machine.state.StateReader;
import dev.flint.machine.state.StateWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.logging.Logger;

/**
 * The one place that knows where devices sit: it owns the port-I/O and MMIO buses and alone registers
 * every device on them (the legacy ports, the PCI configuration mechanism, the boot timer page, the
 * debug-exit port), plugs PCI functions into slots, and chooses every interrupt route (the legacy GSIs,
 * the INTx swizzle). Devices get only their interrupt line or controller and their memory; none knows a
 * port number or an address. Cold start and snapshot restore build the same machine through
 * {@link #install}, so the two cannot drift apart; a restore then takes back the state {@link #save} wrote.
 * (Firecracker's {@code device_manager} is the model.)
 */
final class DeviceManager implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(DeviceManager.class.getName());

    private final Bus portIo = new Bus("port-io");
    private final Bus mmio = new Bus("mmio");
    private LegacyDevices legacy;
    private PciHostBridge pci;
    private final List<VirtioPciDevice> virtio = new ArrayList<>();
    /** NVMe controllers in the order of their drives (the guest's nvme0, nvme1...). */
    private final List<NvmePciFunction> nvme = new ArrayList<>();
    /** The balloon, when the configuration has one. */
    private VirtioBalloon balloon;
    /**
     * How to change each drive's rate limit, in the order the drives were plugged: the configuration's, then
     * those attached while the guest runs. Either a virtio-blk function or an NVMe namespace.
     */
    private final List<java.util.function.BiConsumer<BucketConfig, BucketConfig>> driveLimits = new ArrayList<>();
    /** The network interfaces in configuration order, with their PCI functions. */
    private final List<VirtioNet> nets = new ArrayList<>();
    private final List<VirtioPciDevice> netFunctions = new ArrayList<>();
    /** The machine's configuration, once installed. */
    private VmConfig config;
    /** NVMe controllers whose namespaces were attached or detached while the guest ran. */
    private final java.util.Set<Integer> nvmeNamespacesChanged = new java.util.TreeSet<>();
    /** The engine's I/O shortcuts the virtio devices use (none unless {@link #install} is given some). */
    private IoFastPaths fastPaths = IoFastPaths.NONE;
    /** What hot-plugged functions are built with (set by {@link #install}). */
    private GuestMemory memory;
    private InterruptController irq;
    /** The hot-plug registers the DSDT's Generic Event Device reads; the slots free after the cold devices. */
    private PciHotplugController hotplug;
    /**
     * NVMe controllers hot-plugged while the guest runs, by slot, until they are closed; guarded by itself. A
     * slot stays here while its function is being closed after the guest ejected it, so whoever asks sees
     * it gone only when its file is closed.
     */
    private final Map<Integer, NvmePciFunction> hotplugged = new TreeMap<>();
    /** The slots of the configuration's {@link VmConfig#hotplugNvme} drives, in its order (plugged at boot). */
    private final List<Integer> bootHotplugSlots = new ArrayList<>();
    /** The functions of {@link #bootHotplugSlots} (by identity: a slot may be emptied and plugged again). */
    private final java.util.Set<NvmePciFunction> pluggedAtBoot = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());

    /** The buses the engine dispatches to; empty until {@link #install} (the engine may add its own controllers first). */
    Bus portIo() { return portIo; }

    Bus mmio() { return mmio; }

    /**
     * Builds every device of {@code config} and puts it on the buses: the legacy PC devices, the PCI host
     * bridge with the configuration's functions, the boot timer and debug-exit port when asked for. Devices
     * interrupt through {@code irq}, the engine's controller, and use its {@code paths}. A device that cannot
     * open (say, a missing disk image) fails the build; what was built is released by {@link #close}.
     */
    void install(VmConfig config, GuestMemory memory, InterruptController irq, IoFastPaths paths,
                 SystemControl control, Console console, long startNanos) {
        this.fastPaths = paths;
        this.config = config;
        this.memory = memory;
        this.irq = irq;
        legacy = LegacyDevices.create(irq, new LegacyDevices.Lines(Layout.COM1_IRQ, Layout.I8042_KBD_IRQ, Layout.I8042_AUX_IRQ),
                control, console.in(), console.out());
        portIo.register(Layout.COM1_PORT, 8, legacy.serial(), "COM1");
        portIo.register(Layout.I8042_DATA_PORT, 1, legacy.i8042().dataPort(), "i8042 data");
        portIo.register(Layout.I8042_COMMAND_PORT, 1, legacy.i8042().commandPort(), "i8042 command");
        portIo.register(Layout.RTC_PORT, 2, legacy.rtc(), "CMOS RTC");
        portIo.register(Layout.POST_PORT, 1, legacy.postPort(), "POST port");
        portIo.register(Layout.ACPI_SLEEP_CONTROL_PORT, AcpiPowerRegisters.LENGTH, legacy.powerRegisters(), "ACPI power registers");
        pci = new PciHostBridge(portIo, mmio, irq, Layout::pciIntxGsi);
        portIo.register(Layout.PCI_CONFIG_ADDRESS_PORT, 4, pci.configAddressPort(), "PCI config address");
        portIo.register(Layout.PCI_CONFIG_DATA_PORT, 4, pci.configDataPort(), "PCI config data");
        plugPci(config, memory, irq);
        hotplug = new PciHotplugController(irq, Layout.GED_GSI, pci.freeSlots(), this::ejectedByGuest);
        portIo.register(Layout.PCI_HOTPLUG_PORT, PciHotplugController.LENGTH, hotplug, "PCI hot-plug");
        // After the hot-plug registers exist (the slots they serve are those the devices above left free). The
        // guest has not run yet: it finds these at boot by scanning the bus, so nothing is announced.
        for (DriveConfig drive : config.hotplugNvme()) bootHotplugSlots.add(plugHotpluggable(drive, false));
        if (config.bootTimer()) mmio.register(Layout.BOOT_TIMER, BootTimer.MMIO_LENGTH, new BootTimer(startNanos), "boot-timer");
        if (config.debugExitPort() >= 0) {
            portIo.register(config.debugExitPort(), DebugExit.LENGTH, new DebugExit(control), "isa-debug-exit");
        }
    }

    /**
     * Bus and device counters for metrics, in Firecracker's names where it has one: "vcpu.exit_*" are the
     * device-register accesses dispatched, device figures are "GROUP.metric" summed per group.
     */
    Map<String, Long> counters() {
        Map<String, Long> all = new TreeMap<>();
        all.put("vcpu.exit_io_in", portIo.reads());
        all.put("vcpu.exit_io_out", portIo.writes());
        all.put("vcpu.exit_mmio_read", mmio.reads());
        all.put("vcpu.exit_mmio_write", mmio.writes());
        virtioCounters().forEach((name, value) -> all.merge(name, value, Long::sum));
        return all;
    }

    /**
     * Plugs the configuration's virtio devices into PCI bus 0: the drives in order (slot 1 up), then
     * the entropy device, then the network interfaces in order. A device that cannot open (say, a missing disk image) fails the build; those
     * already plugged are closed with the board.
     */
    private void plugPci(VmConfig config, GuestMemory memory, InterruptController irq) {
        for (DriveConfig drive : config.drives()) {
            if (drive.iface() == DriveConfig.Interface.NVME) {
                NvmePciFunction controller = plugNvme(drive, config.cpus(), memory, irq);
                driveLimits.add((bandwidth, ops) -> controller.updateRateLimit(1, bandwidth, ops));
            } else if (drive.iface() == DriveConfig.Interface.VHOST_USER) {
                plug(new VirtioPciDevice(VhostUserBlockFrontEnd.connect(drive.path(), memory, drive.readOnly()), memory, irq));
                driveLimits.add((bandwidth, ops) -> {
                    throw new IllegalArgumentException("a vhost-user drive cannot have a rate limit (its back end does the I/O)");
                });
            } else {
                VirtioPciDevice device = VirtioBlock.pciDevice(drive, memory, irq);
                plug(device);
                VirtioBlock block = (VirtioBlock) device.model();
                driveLimits.add((bandwidth, ops) -> {
                    block.updateRateLimit(bandwidth, ops);
                    device.requeueAll();
                });
            }
        }
        for (int i = 0; i < config.emptyNvmeControllers(); i++) plugEmptyNvme(config.cpus(), memory, irq);
        if (config.rng()) plug(VirtioRng.pciDevice(memory, irq));
        for (NetConfig net : config.nets()) {
            VirtioPciDevice device = VirtioNet.pciDevice(net, memory, irq);
            plug(device);
            nets.add((VirtioNet) device.model());
            netFunctions.add(device);
        }
        if (config.vsock() != null) plug(VirtioVsock.pciDevice(config.vsock(), memory, irq));
        if (config.balloon() != null) {
            VirtioBalloon b = VirtioBalloon.create(config.balloon(), memory, irq);
            plug(b.pciDevice());
            balloon = b;
        }
    }

    /** The balloon device, or null when the machine has none. */
    VirtioBalloon balloon() { return balloon; }

    private void plug(VirtioPciDevice device) {
        virtio.add(device);
        device.useFastPaths(fastPaths);
        int slot = pci.addDevice(device);
        LOG.fine(() -> "PCI 00:" + String.format("%02x", slot) + ".0: " + device.name());
    }

    /**
     * An NVMe drive is a controller of its own (as an EC2 EBS volume is) with the drive as namespace 1 and
     * the drive's serial as the controller's, and one I/O queue pair per vCPU.
     */
    private NvmePciFunction plugNvme(DriveConfig drive, int cpus, GuestMemory memory, InterruptController irq) {
        NvmePciFunction device = NvmePciFunction.create(NvmeIdentity.of(drive.serialOrDefault()), List.of(drive), cpus, memory, irq);
        nvme.add(device);
        device.useFastPaths(fastPaths);
        int slot = pci.addDevice(device);
        LOG.fine(() -> "PCI 00:" + String.format("%02x", slot) + ".0: nvme " + drive.serialOrDefault());
        return device;
    }

    /**
     * An NVMe controller without namespaces, waiting for hot-attached volumes. Linux binds to it and
     * finds an empty active namespace list (NN still says how many it may hold). Its serial names its
     * place among the controllers, as no volume can.
     */
    private void plugEmptyNvme(int cpus, GuestMemory memory, InterruptController irq) {
        String serial = "flint-nvme" + nvme.size();
        NvmePciFunction device = NvmePciFunction.create(NvmeIdentity.of(serial), List.of(), cpus, memory, irq);
        nvme.add(device);
        device.useFastPaths(fastPaths);
        int slot = pci.addDevice(device);
        LOG.fine(() -> "PCI 00:" + String.format("%02x", slot) + ".0: nvme " + serial + " (no namespace)");
    }

    /**
     * What the firmware tables describe: the standard platform with PCI hot-plug on the slots the configuration's
     * devices left free. After {@link #install}.
     */
    PlatformInfo platform() {
        return PlatformInfo.standard().withHotplug(new PciHotplugInfo(Layout.PCI_HOTPLUG_PORT, Layout.GED_GSI,
                hotplug.hotpluggableSlots()));
    }

    /**
     * Hot-plugs {@code drive} as an NVMe controller of its own (namespace 1, the drive's serial as the
     * controller's, as at boot) into the lowest free hot-pluggable slot and tells the guest, whose ACPI PCI
     * hot-plug driver scans the slot. Returns the slot. A drive that cannot open is a DiskImageException,
     * a full bus an IllegalStateException; nothing changes then.
     */
    int hotplugNvme(DriveConfig drive) {
        return plugHotpluggable(drive, true);
    }

    /** The slots the configuration's hot-pluggable NVMe drives were plugged into at boot, in its order. */
    List<Integer> bootHotplugSlots() { return List.copyOf(bootHotplugSlots); }

    /** Plugs {@code drive} into the lowest free hot-pluggable slot; {@code announce} tells a running guest. */
    private int plugHotpluggable(DriveConfig drive, boolean announce) {
        synchronized (hotplugged) {
            int free = pci.freeSlots() & hotplug.hotpluggableSlots();
            for (int slot : hotplugged.keySet()) free &= ~(1 << slot);
            if (free == 0) throw new IllegalStateException("no free hot-pluggable PCI slot");
            int slot = Integer.numberOfTrailingZeros(free);
            NvmePciFunction device = NvmePciFunction.create(NvmeIdentity.of(drive.serialOrDefault()), List.of(drive), config.cpus(), memory, irq);
            device.useFastPaths(fastPaths);
            if (!pci.addDeviceAt(slot, device)) {
                device.close();
                throw new IllegalStateException("PCI slot " + slot + " is taken");
            }
            hotplugged.put(slot, device);
            driveLimits.add((bandwidth, ops) -> {
                if (!hotplugged(slot, device)) throw new IllegalArgumentException("the drive was removed");
                device.updateRateLimit(1, bandwidth, ops);
            });
            if (!announce) {
                pluggedAtBoot.add(device);
                LOG.fine(() -> "PCI 00:" + String.format("%02x", slot) + ".0: nvme " + drive.serialOrDefault() + " (hot-pluggable)");
                return slot;
            }
            hotplug.announceInserted(slot);
            LOG.info(() -> "PCI 00:" + String.format("%02x", slot) + ".0: nvme " + drive.serialOrDefault() + " hot-plugged");
            return slot;
        }
    }

    private boolean hotplugged(int slot, NvmePciFunction device) {
        synchronized (hotplugged) { return hotplugged.get(slot) == device; }
    }

    /** Asks the guest to let go of the function hot-plugged in {@code slot} and eject it (it may never do so). */
    void requestEject(int slot) {
        synchronized (hotplugged) {
            if (!hotplugged.containsKey(slot)) throw new IllegalArgumentException("nothing hot-plugged in PCI slot " + slot);
            hotplug.requestEject(slot);
        }
    }

    /**
     * Surprise removal: takes the function out of {@code slot} at once and closes it (its file too) before
     * returning. The guest's further accesses read all ones and go nowhere; it is then asked to eject the
     * empty slot, so its driver tidies up.
     */
    void forceRemove(int slot) {
        NvmePciFunction device;
        synchronized (hotplugged) {
            device = hotplugged.get(slot);
            if (device == null) throw new IllegalArgumentException("nothing hot-plugged in PCI slot " + slot);
            device.markRemoved();
            pci.removeDevice(slot);
        }
        device.close();
        synchronized (hotplugged) {
            hotplugged.remove(slot, device);
        }
        hotplug.requestEject(slot);
        LOG.info(() -> "PCI 00:" + String.format("%02x", slot) + ".0: removed by force");
    }

    /** Re-reads the size of the drive of the controller hot-plugged in {@code slot} (its namespace 1); returns its blocks. */
    long resizeHotplugged(int slot) {
        NvmePciFunction device;
        synchronized (hotplugged) { device = hotplugged.get(slot); }
        if (device == null) throw new IllegalArgumentException("nothing hot-plugged in PCI slot " + slot);
        return device.resize(1);
    }

    /** Whether a hot-plugged function still occupies {@code slot} (false once it was removed and closed). */
    boolean hotplugOccupied(int slot) {
        synchronized (hotplugged) { return hotplugged.containsKey(slot); }
    }

    /**
     * The guest's {@code _EJ0} ran for {@code slot} (a vCPU thread): it let go of the function. The function
     * leaves the bus at once and is closed on a thread of its own (a vCPU must not wait on an I/O thread); the
     * slot counts as occupied until then. An eject of a slot with nothing hot-plugged in it changes nothing.
     */
    private void ejectedByGuest(int slot) {
        NvmePciFunction device;
        synchronized (hotplugged) {
            device = hotplugged.get(slot);
            if (device == null) {
                if (!loggedEmptyEject) LOG.info("PCI hot-plug: the guest ejected slot " + slot + ", which holds nothing"
                        + " hot-plugged; ignored (logged once)");
                loggedEmptyEject = true;
                return;
            }
            if (pci.removeDevice(slot) == null) return; // already on its way out
            device.markRemoved();
        }
        Thread.ofPlatform().name("flint-pci-eject-" + slot).start(() -> {
            try {
                device.close();
            } finally {
                synchronized (hotplugged) { hotplugged.remove(slot, device); }
                LOG.info(() -> "PCI 00:" + String.format("%02x", slot) + ".0: ejected by the guest");
            }
        });
    }

    private boolean loggedEmptyEject;

    /** Attaches {@code drive} to NVMe controller {@code controller} (0 = the first) as a new namespace; returns its ID. */
    int attachNvmeNamespace(int controller, DriveConfig drive) {
        if (controller < 0 || controller >= nvme.size()) {
            throw new IllegalArgumentException("no NVMe controller " + controller + " (this machine has " + nvme.size() + ")");
        }
        NvmePciFunction device = nvme.get(controller);
        int nsid = device.attach(drive);
        nvmeNamespacesChanged.add(controller);
        driveLimits.add((bandwidth, ops) -> device.updateRateLimit(nsid, bandwidth, ops));
        return nsid;
    }

    /**
     * Changes drive {@code drive}'s rate limit (its index in plugging order: the configuration's drives, then
     * the attached ones); a null bucket stays as it is, one that limits nothing is removed.
     */
    void updateDriveRateLimit(int drive, BucketConfig bandwidth, BucketConfig ops) {
        if (drive < 0 || drive >= driveLimits.size()) {
            throw new IllegalArgumentException("no drive " + drive + " (this machine has " + driveLimits.size() + ")");
        }
        driveLimits.get(drive).accept(bandwidth, ops);
    }

    /** Changes network interface {@code net}'s limits (configuration order); null buckets stay as they are. */
    void updateNetRateLimits(int net, BucketConfig rxBandwidth, BucketConfig rxOps, BucketConfig txBandwidth, BucketConfig txOps) {
        if (net < 0 || net >= nets.size()) {
            throw new IllegalArgumentException("no network interface " + net + " (this machine has " + nets.size() + ")");
        }
        nets.get(net).updateRateLimits(rxBandwidth, rxOps, txBandwidth, txOps);
        netFunctions.get(net).requeueAll();
    }

    /** Re-reads the size of namespace {@code nsid} of NVMe controller {@code controller}; returns its blocks. */
    long resizeNvmeNamespace(int controller, int nsid) {
        if (controller < 0 || controller >= nvme.size()) {
            throw new IllegalArgumentException("no NVMe controller " + controller + " (this machine has " + nvme.size() + ")");
        }
        return nvme.get(controller).resize(nsid);
    }

    /** Detaches namespace {@code nsid} of NVMe controller {@code controller}. */
    void detachNvmeNamespace(int controller, int nsid) {
        if (controller < 0 || controller >= nvme.size()) {
            throw new IllegalArgumentException("no NVMe controller " + controller + " (this machine has " + nvme.size() + ")");
        }
        nvme.get(controller).detach(nsid);
        nvmeNamespacesChanged.add(controller);
    }

    /** The virtio devices' counters, named "GROUP.metric" ("block.read_bytes"), summed per group. */
    private Map<String, Long> virtioCounters() {
        Map<String, Long> all = new TreeMap<>();
        for (VirtioPciDevice device : virtio) {
            device.counters().forEach((name, value) -> all.merge(device.metricsGroup() + "." + name, value, Long::sum));
        }
        for (NvmePciFunction device : nvme) {
            device.counters().forEach((name, value) -> all.merge(device.metricsGroup() + "." + name, value, Long::sum));
        }
        List<NvmePciFunction> plugged;
        synchronized (hotplugged) { plugged = List.copyOf(hotplugged.values()); }
        for (NvmePciFunction device : plugged) {
            device.counters().forEach((name, value) -> all.merge(device.metricsGroup() + "." + name, value, Long::sum));
        }
        return all;
    }

    /** Presses Ctrl-Alt-Del on the guest's keyboard (the guest decides what to do with it). */
    void sendCtrlAltDel() { legacy.i8042().sendCtrlAltDel(); }

    /** Holds every device I/O thread between requests (after the vCPUs stopped, so none kicks them again). */
    void pause() {
        for (VirtioPciDevice device : virtio) device.pause();
        for (NvmePciFunction device : nvme) device.pause();
        synchronized (hotplugged) { for (NvmePciFunction device : hotplugged.values()) device.pause(); }
    }

    void resume() {
        for (VirtioPciDevice device : virtio) device.resume();
        for (NvmePciFunction device : nvme) device.resume();
        synchronized (hotplugged) { for (NvmePciFunction device : hotplugged.values()) device.resume(); }
    }

    /**
     * Snapshot of the paused machine's devices, each in a section of its own: the legacy devices, the PCI
     * host bridge, each virtio function in slot order (the transport, then the model's own state: rate
     * limiters, the balloon's target and statistics), each NVMe controller, and the metadata service's
     * settings and data. A controller whose namespaces changed while the guest ran cannot be rebuilt from
     * the configuration, so that is refused (one line, nothing written).
     */
    void save(StateWriter state) {
        synchronized (hotplugged) {
            // A slot emptied again (ejected, removed) is fine: the restored machine has it empty too.
            if (hotplug.pending() || !pluggedAtBoot.containsAll(hotplugged.values())) {
                throw new SnapshotException("snapshots of a microVM with PCI functions hot-plugged while it ran are not supported"
                        + " (detach them first)");
            }
            if (!hotplugged.isEmpty()) {
                throw new SnapshotException("snapshots of a microVM with NVMe drives in hot-pluggable PCI slots (\"nvme_controller\":"
                        + " \"new\" before InstanceStart) are not supported: a restore rebuilds its devices from a configuration"
                        + " that has no place for them");
            }
        }
        if (!nvmeNamespacesChanged.isEmpty()) {
            throw new SnapshotException("snapshots of a microVM whose NVMe namespaces were attached or detached while it ran"
                    + " are not supported (controller " + nvmeNamespacesChanged.iterator().next() + ")");
        }
        for (VirtioPciDevice device : virtio) {
            if (device.model() instanceof VhostUserBlockFrontEnd) {
                throw new SnapshotException("snapshots of a microVM with a vhost-user drive are not supported (its back end's state"
                        + " lives in another process)");
            }
        }
        legacy.save(state);
        try (var s = state.section("pci")) { pci.save(s); }
        for (int i = 0; i < virtio.size(); i++) {
            VirtioPciDevice device = virtio.get(i);
            try (var s = state.section("virtio." + i + "." + device.name())) { device.save(s); }
            try (var s = state.section("virtio." + i + "." + device.name() + ".model")) { device.model().saveState(s); }
        }
        for (int i = 0; i < nvme.size(); i++) {
            try (var s = state.section("nvme." + i)) { nvme.get(i).save(s); }
        }
        Mmds mmds = mmds();
        if (mmds != null) try (var s = state.section("mmds")) { mmds.save(s); }
    }

    /**
     * Takes back {@link #save}'s state on devices built from the snapshot's configuration. A virtio model's
     * state goes first, so the transport finds it when it reactivates a running driver; snapshots made before
     * models kept state have no model sections and load as they did.
     */
    void restore(StateReader state) {
        legacy.restore(state);
        pci.restore(state.section("pci"));
        for (int i = 0; i < virtio.size(); i++) {
            VirtioPciDevice device = virtio.get(i);
            String name = "virtio." + i + "." + device.name();
            if (state.has(name + ".model")) device.model().restoreState(state.section(name + ".model"));
            device.restore(state.section(name));
        }
        for (int i = 0; i < nvme.size(); i++) nvme.get(i).restore(state.section("nvme." + i));
        Mmds mmds = mmds();
        if (mmds != null && state.has("mmds")) mmds.restore(state.section("mmds"));
    }

    /** The metadata service the network interfaces answer for, or null when none does. */
    private Mmds mmds() {
        return config.nets().stream().map(NetConfig::mmds).filter(java.util.Objects::nonNull).findFirst().orElse(null);
    }

    /** The guest MACs of the network interfaces, in order (random ones included: a restore must keep them). */
    List<dev.flint.devices.virtio.net.MacAddress> netMacs() {
        return virtio.stream().filter(d -> d.model() instanceof VirtioNet).map(d -> ((VirtioNet) d.model()).mac()).toList();
    }

    /** Stops the virtio I/O threads (they touch guest memory), then the console input thread. */
    @Override
    public void close() {
        for (VirtioPciDevice device : virtio) device.close();
        for (NvmePciFunction device : nvme) device.close();
        List<NvmePciFunction> plugged;
        synchronized (hotplugged) { plugged = List.copyOf(hotplugged.values()); }
        for (NvmePciFunction device : plugged) device.close();
        if (legacy != null) legacy.close();
    }
}
