package dev.flint.api;

import dev.flint.api.model.BootSource;
import dev.flint.api.model.Drive;
import dev.flint.api.model.EntropyDevice;
import dev.flint.api.model.FirecrackerVersion;
import dev.flint.api.model.FullVmConfiguration;
import dev.flint.api.model.InstanceActionInfo;
import dev.flint.api.model.InstanceInfo;
import dev.flint.api.model.LoggerConfig;
import dev.flint.api.model.MachineConfiguration;
import dev.flint.api.model.MetricsConfig;
import dev.flint.api.model.MmdsConfig;
import dev.flint.api.model.NetworkInterface;
import dev.flint.api.model.PartialDrive;
import dev.flint.api.model.PartialNetworkInterface;
import dev.flint.api.model.SerialDevice;
import dev.flint.api.model.VmState;
import dev.flint.api.telemetry.LogOutput;
import dev.flint.api.telemetry.Metrics;
import dev.flint.api.telemetry.MetricsOutput;
import com.fasterxml.jackson.databind.JsonNode;
import dev.flint.devices.mmds.Mmds;
import dev.flint.devices.mmds.MmdsException;
import dev.flint.machine.StopReason;
import java.util.List;
import java.nio.file.Path;
import java.io.IOException;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * What each API request does to the microVM, with Firecracker's state rules: configuration is pre-boot
 * only, pause/resume/Ctrl+Alt+Del are post-boot only, and a refused request changes nothing. The same
 * object serves the HTTP handler and {@code --config-file}, so both paths validate alike. Requests are
 * serialized (Firecracker handles them one at a time too); GETs only take the lock briefly.
 */
public final class VmmController implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(VmmController.class.getName());

    /** The product name and version answered by GET /. */
    public static final String APP_NAME = "Flint";
    public static final String VMM_VERSION = "0.1.0";
    /** The Firecracker API version whose contract this server implements (src/main/resources/firecracker-api.yaml). */
    public static final String API_VERSION = "1.17.0";

    static final String NOT_AFTER_START = "The requested operation is not supported after starting the microVM.";
    static final String NOT_BEFORE_START = "The requested operation is not supported before starting the microVM.";

    private final String instanceId;
    private final VmmBackend backend;
    private final boolean bootTimer;
    private final Metrics metrics = new Metrics();
    private final VmResources resources = new VmResources();
    private final CompletableFuture<StopReason> stopped = new CompletableFuture<>();
    private final Mmds mmds;

    private InstanceState state = InstanceState.NOT_STARTED;
    /** The network interface ids of the started machine, in device order (a snapshot records them). */
    private List<String> netIds = List.of();
    /** Whether the running microVM logs written pages (booted or loaded with track_dirty_pages): Diff snapshots need it. */
    private boolean trackingDirtyPages;
    /** The started machine's NVMe controllers (drives' and empty ones), the targets of hot attach. */
    private int nvmeControllers;
    /** Where each NVMe drive of the running machine sits (boot-time drives: namespace 1 of their own controller). */
    private final Map<String, NvmeSlot> nvmeSlots = new java.util.HashMap<>();

    /** One NVMe namespace: controller index (0 = the first) and namespace ID. */
    private record NvmeSlot(int controller, int nsid) {}
    /** NVMe drives hot-plugged as controllers of their own ({@code "nvme_controller": "new"}): their PCI slots. */
    private final Map<String, Integer> hotplugSlots = new java.util.HashMap<>();
    /** Hot-plug states GET /vm/config shows. */
    static final String HOTPLUG_ATTACHED = "attached", HOTPLUG_DETACHING = "detaching";
    private LoggerConfig loggerConfig;
    private LogOutput logOutput;
    private MetricsConfig metricsConfig;
    private MetricsOutput metricsOutput;
    private MmdsConfig mmdsConfig;

    public VmmController(String instanceId, VmmBackend backend, boolean bootTimer) {
        this(instanceId, backend, bootTimer, ApiServer.DEFAULT_MAX_PAYLOAD);
    }

    /** @param mmdsSizeLimit the largest MMDS data store, in bytes of JSON (Firecracker's --mmds-size-limit) */
    public VmmController(String instanceId, VmmBackend backend, boolean bootTimer, int mmdsSizeLimit) {
        this.instanceId = instanceId;
        this.backend = backend;
        this.bootTimer = bootTimer;
        this.mmds = new Mmds(mmdsSizeLimit);
    }

    public String instanceId() { return instanceId; }

    public Metrics metrics() { return metrics; }

    /** Completes when the started machine stops; never completes if it is never started. */
    public CompletableFuture<StopReason> stopped() { return stopped; }

    public synchronized InstanceInfo instanceInfo() {
        return new InstanceInfo(APP_NAME, instanceId, state.wireName(), VMM_VERSION);
    }

    public FirecrackerVersion version() { return new FirecrackerVersion(API_VERSION); }

    public synchronized MachineConfiguration machineConfig() { return resources.machineConfig(); }

    public synchronized FullVmConfiguration vmConfig() {
        forgetEjected();
        return new FullVmConfiguration(resources.bootSource(), resources.machineConfig(), resources.drives(),
                resources.networkInterfaces(), resources.entropy(), loggerConfig, metricsConfig, mmdsConfig,
                resources.vsock(), resources.balloon());
    }

    // ---- MMDS: the data store at any time, its configuration before boot ----

    /** The data store as it is now (an empty object until something was put). */
    public JsonNode getMmds() { return mmds.store().snapshot(); }

    public void putMmds(JsonNode data) { mmdsChange(() -> mmds.store().put(data)); }

    public void patchMmds(JsonNode patch) { mmdsChange(() -> mmds.store().patch(patch)); }

    private static void mmdsChange(Runnable change) {
        try {
            change.run();
        } catch (MmdsException e) {
            throw ApiException.badRequest(e.getMessage());
        }
    }

    /**
     * Which interfaces answer for the metadata service, at which address, with which version. As in
     * Firecracker: pre-boot only, and every interface named must be configured already.
     */
    public synchronized void putMmdsConfig(MmdsConfig config) {
        preBoot();
        List<String> ifaces = VmResources.required(config.networkInterfaces(), "network_interfaces");
        if (ifaces.isEmpty()) throw ApiException.badRequest("network_interfaces must name at least one network interface");
        for (String id : ifaces) {
            if (id == null || !resources.hasNetworkInterface(id)) {
                throw ApiException.badRequest("network_interfaces: no network interface with id `" + id + "` is configured");
            }
        }
        String version = config.version() == null ? "V1" : config.version();
        VmResources.oneOf(version, "version", java.util.Set.of("V1", "V2"));
        int address;
        try {
            address = config.ipv4Address() == null ? Mmds.DEFAULT_IPV4 : Mmds.parseLinkLocal(config.ipv4Address());
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest("ipv4_address: " + e.getMessage());
        }
        mmds.configure(new Mmds.Settings(Mmds.Version.valueOf(version), address, Boolean.TRUE.equals(config.imdsCompat())));
        mmdsConfig = new MmdsConfig(version, List.copyOf(ifaces), Mmds.format(address), Boolean.TRUE.equals(config.imdsCompat()));
    }

    public synchronized void putMachineConfig(MachineConfiguration config) {
        preBoot(() -> resources.putMachineConfig(config));
        backend.prepareForBoot();
    }

    public synchronized void patchMachineConfig(MachineConfiguration patch) { preBoot(() -> resources.patchMachineConfig(patch)); }

    public synchronized void putBootSource(BootSource source) {
        preBoot(() -> resources.putBootSource(source));
        backend.prepareForBoot();
    }

    /**
     * Before boot, configures a drive ({@code "nvme_controller": "new"}: an NVMe controller of its own in a
     * hot-pluggable PCI slot from boot, detached later through the guest's eject as a hot-plugged one). After boot
     * (Flint's extension), attaches an {@code nvme} drive to the running machine as a new namespace of NVMe
     * controller {@code nvme_controller} (default 0), or with {@code "new"} hot-plugs it as a controller of its own;
     * the guest sees it without a reboot. Anything else after boot is refused with one line.
     */
    public synchronized void putDrive(String id, Drive drive) {
        if (state == InstanceState.NOT_STARTED) {
            resources.putDrive(id, drive);
            return;
        }
        forgetEjected();
        int controller = resources.checkHotAttach(id, drive, nvmeControllers);
        var spec = new MachineSpec.DriveSpec(id, java.nio.file.Path.of(drive.pathOnHost()),
                Boolean.TRUE.equals(drive.isReadOnly()), false, drive.partuuid(),
                drive.cacheType() == null ? "Unsafe" : drive.cacheType(), true, RateLimits.of(drive.rateLimiter(), "rate_limiter"));
        if (controller == VmResources.NEW_CONTROLLER) {
            int slot;
            try {
                slot = backend.hotplugNvme(spec);
            } catch (VmmBackend.BackendException e) {
                throw ApiException.badRequest("cannot attach drive " + id + ": " + e.getMessage());
            }
            resources.attached(id, drive.withHotplugState(HOTPLUG_ATTACHED));
            hotplugSlots.put(id, slot);
            LOG.info(() -> "drive " + id + " hot-plugged as an NVMe controller of its own in PCI slot " + slot);
            return;
        }
        int nsid;
        try {
            nsid = backend.attachNvme(controller, spec);
        } catch (VmmBackend.BackendException e) {
            throw ApiException.badRequest("cannot attach drive " + id + ": " + e.getMessage());
        }
        resources.attached(id, drive);
        nvmeSlots.put(id, new NvmeSlot(controller, nsid));
        LOG.info(() -> "drive " + id + " attached as namespace " + nsid + " of NVMe controller " + controller);
    }

    /**
     * Flint's extension: detaches an NVMe drive from the running machine (one attached after boot, or an
     * {@code nvme} drive given before InstanceStart). The guest is told and drops the disk; the image is closed
     * and unlocked, so another VM may take it. Before boot a drive is simply forgotten.
     */
    public synchronized void deleteDrive(String id) {
        deleteDrive(id, false);
    }

    /**
     * Like {@link #deleteDrive(String)}; for a drive hot-plugged as a controller of its own the answer says
     * whether it is gone. Without {@code force} the guest is asked to eject it (ACPI Eject Request) and this
     * returns false at once: the drive stays, {@code "hotplug_state": "detaching"} in GET /vm/config, until the
     * guest ejected it, and then leaves the list with its file closed; asking again repeats the request. With
     * {@code force} the function is removed at once (the guest sees a surprise removal) and this returns true.
     * Drives put with {@code "nvme_controller": "new"} before InstanceStart are in hot-pluggable slots and leave
     * the same way. Every other drive is detached at once (true); {@code force} changes nothing for them.
     */
    public synchronized boolean deleteDrive(String id, boolean force) {
        if (state == InstanceState.NOT_STARTED) {
            if (!resources.hasDrive(id)) throw ApiException.badRequest("no drive " + id);
            resources.detached(id);
            return true;
        }
        forgetEjected();
        Integer pciSlot = hotplugSlots.get(id);
        if (pciSlot != null) return unplug(id, pciSlot, force);
        detachNamespace(id);
        return true;
    }

    private boolean unplug(String id, int pciSlot, boolean force) {
        try {
            if (force) {
                backend.forceRemove(pciSlot);
            } else {
                backend.requestEject(pciSlot);
            }
        } catch (VmmBackend.BackendException e) {
            if (!backend.hotplugOccupied(pciSlot)) { // the guest ejected it meanwhile
                forgetEjected();
                return true;
            }
            throw ApiException.badRequest("cannot detach drive " + id + ": " + e.getMessage());
        }
        if (force) {
            hotplugSlots.remove(id);
            resources.detached(id);
            LOG.info(() -> "drive " + id + " removed by force from PCI slot " + pciSlot);
            return true;
        }
        resources.hotplugState(id, HOTPLUG_DETACHING);
        LOG.info(() -> "drive " + id + ": the guest was asked to eject PCI slot " + pciSlot);
        return false;
    }

    /** Drops the hot-plugged drives whose functions the guest ejected (removed, files closed) since the last look. */
    private void forgetEjected() {
        for (var it = hotplugSlots.entrySet().iterator(); it.hasNext(); ) {
            var e = it.next();
            if (backend.hotplugOccupied(e.getValue())) continue;
            it.remove();
            resources.detached(e.getKey());
            LOG.info(() -> "drive " + e.getKey() + " detached: the guest ejected PCI slot " + e.getValue());
        }
    }

    private void detachNamespace(String id) {
        NvmeSlot slot = nvmeSlots.get(id);
        if (slot == null) {
            throw ApiException.badRequest(resources.hasDrive(id) ? "drive " + id + " is a virtio-blk drive: only NVMe drives can be "
                    + "detached from a running microVM (virtio-blk has no hot-unplug here)" : "no drive " + id);
        }
        try {
            backend.detachNvme(slot.controller(), slot.nsid());
        } catch (VmmBackend.BackendException e) {
            throw ApiException.badRequest("cannot detach drive " + id + ": " + e.getMessage());
        }
        nvmeSlots.remove(id);
        resources.detached(id);
        LOG.info(() -> "drive " + id + " detached: namespace " + slot.nsid() + " of NVMe controller " + slot.controller());
    }

    /**
     * A running drive's new rate limiter (Firecracker's partial update: a bucket left out stays, one given
     * replaces the old with a full new bucket, a zero one removes it). A new backing file is not supported:
     * a path_on_host other than the drive's own is refused. The drive's own path_on_host on an NVMe drive
     * means, as in Firecracker, "look at the file again": its size is re-read after the host grew it and the
     * guest is told (a Namespace Attribute Changed event; Linux takes the new capacity without a reboot). On a
     * virtio-blk drive it changes nothing (its size is read at boot only).
     */
    public synchronized void patchDrive(String id, PartialDrive patch) {
        VmResources.sameId(id, VmResources.required(patch.driveId(), "drive_id"), "drive");
        var bandwidth = patch.rateLimiter() == null ? null : RateLimits.bucket(patch.rateLimiter().bandwidth(), "rate_limiter.bandwidth");
        var ops = patch.rateLimiter() == null ? null : RateLimits.bucket(patch.rateLimiter().ops(), "rate_limiter.ops");
        postBoot();
        if (!resources.hasDrive(id)) throw ApiException.badRequest("no drive with id " + id + " is attached to the running microVM");
        if (patch.pathOnHost() != null && !patch.pathOnHost().equals(resources.drive(id).pathOnHost())) {
            throw ApiException.notSupported("changing the path_on_host of a running drive");
        }
        if (patch.pathOnHost() != null && (nvmeSlots.containsKey(id) || hotplugSlots.containsKey(id))) rereadSize(id);
        if (patch.rateLimiter() == null) return;
        try {
            backend.updateDriveRateLimit(id, bandwidth, ops);
        } catch (VmmBackend.BackendException e) {
            throw ApiException.badRequest("cannot update drive " + id + ": " + e.getMessage());
        }
        resources.patchedDrive(id, patch.rateLimiter());
        LOG.info(() -> "drive " + id + " rate limiter updated: bandwidth " + (bandwidth == null ? "unchanged" : bandwidth)
                + ", ops " + (ops == null ? "unchanged" : ops));
    }

    /** The NVMe drive {@code id}'s file grew: the namespace takes the new size and the guest is told. */
    private void rereadSize(String id) {
        Integer pciSlot = hotplugSlots.get(id);
        if (pciSlot != null) {
            long bytes;
            try {
                bytes = backend.resizeHotplugged(pciSlot);
            } catch (VmmBackend.BackendException e) {
                throw ApiException.badRequest("cannot re-read the size of drive " + id + ": " + e.getMessage());
            }
            LOG.info(() -> "drive " + id + ": the NVMe controller in PCI slot " + pciSlot + " is " + bytes + " bytes");
            return;
        }
        NvmeSlot slot = nvmeSlots.get(id);
        long bytes;
        try {
            bytes = backend.resizeNvme(slot.controller(), slot.nsid());
        } catch (VmmBackend.BackendException e) {
            throw ApiException.badRequest("cannot re-read the size of drive " + id + ": " + e.getMessage());
        }
        LOG.info(() -> "drive " + id + ": namespace " + slot.nsid() + " of NVMe controller " + slot.controller() + " is " + bytes + " bytes");
    }

    public synchronized void putNetworkInterface(String id, NetworkInterface net) {
        preBoot(() -> resources.putNetworkInterface(id, net));
    }

    /** A running interface's new rate limiters, with the same partial-update rules as {@link #patchDrive}. */
    public synchronized void patchNetworkInterface(String id, PartialNetworkInterface patch) {
        VmResources.sameId(id, VmResources.required(patch.ifaceId(), "iface_id"), "network interface");
        var rx = patch.rxRateLimiter();
        var tx = patch.txRateLimiter();
        var rxBandwidth = rx == null ? null : RateLimits.bucket(rx.bandwidth(), "rx_rate_limiter.bandwidth");
        var rxOps = rx == null ? null : RateLimits.bucket(rx.ops(), "rx_rate_limiter.ops");
        var txBandwidth = tx == null ? null : RateLimits.bucket(tx.bandwidth(), "tx_rate_limiter.bandwidth");
        var txOps = tx == null ? null : RateLimits.bucket(tx.ops(), "tx_rate_limiter.ops");
        postBoot();
        if (!resources.hasNetworkInterface(id)) {
            throw ApiException.badRequest("no network interface with id " + id + " is attached to the running microVM");
        }
        if (rx == null && tx == null) return;
        try {
            backend.updateNetRateLimits(id, rxBandwidth, rxOps, txBandwidth, txOps);
        } catch (VmmBackend.BackendException e) {
            throw ApiException.badRequest("cannot update network interface " + id + ": " + e.getMessage());
        }
        resources.patchedNetworkInterface(id, rx, tx);
        LOG.info(() -> "network interface " + id + " rate limiters updated");
    }

    public synchronized void putEntropy(EntropyDevice device) { preBoot(() -> resources.putEntropy(device)); }

    public synchronized void putVsock(dev.flint.api.model.Vsock device) { preBoot(() -> resources.putVsock(device)); }

    // ---- the balloon: configured before boot; target and polling interval change at any time ----

    static final String NO_BALLOON = "No balloon device found (PUT /balloon before InstanceStart configures one).";

    public synchronized void putBalloon(dev.flint.api.model.Balloon device) { preBoot(() -> resources.putBalloon(device)); }

    /** Before boot the configured target changes; after, the running balloon's, and the guest is told. */
    public synchronized void patchBalloon(dev.flint.api.model.BalloonUpdate update) {
        long amount = VmResources.required(update.amountMib(), "amount_mib");
        configuredBalloon();
        VmResources.checkBalloonAmount(amount, resources.machineConfig().memSizeMib());
        if (state != InstanceState.NOT_STARTED) {
            try {
                backend.setBalloonTarget(amount);
            } catch (VmmBackend.BackendException e) {
                throw ApiException.badRequest("cannot update the balloon: " + e.getMessage());
            }
        }
        resources.patchBalloonAmount(amount);
    }

    /**
     * The balloon as configured, its target as it is now (Firecracker's answer: what the guest holds is in
     * {@code GET /balloon/statistics}).
     */
    public synchronized dev.flint.api.model.Balloon getBalloon() { return configuredBalloon(); }

    /** Firecracker's statistics document: target and actual in pages and MiB, then the guest's figures. */
    public synchronized Map<String, Object> getBalloonStats() {
        dev.flint.api.model.Balloon b = configuredBalloon();
        if (b.statsPollingIntervalS() == 0) {
            throw ApiException.badRequest("Statistics for the balloon device are not enabled (stats_polling_interval_s is 0).");
        }
        postBoot();
        var stats = backend.balloonStatistics();
        if (stats == null) throw ApiException.badRequest("Statistics for the balloon device are not enabled.");
        Map<String, Object> body = new java.util.LinkedHashMap<>();
        body.put("target_pages", stats.targetPages());
        body.put("actual_pages", stats.actualPages());
        body.put("target_mib", stats.targetMib());
        body.put("actual_mib", stats.actualMib());
        body.putAll(stats.guest());
        return body;
    }

    /** Statistics cannot be switched on or off after boot, only their interval changed. */
    public synchronized void patchBalloonStats(dev.flint.api.model.BalloonStatsUpdate update) {
        int seconds = VmResources.required(update.statsPollingIntervalS(), "stats_polling_interval_s");
        dev.flint.api.model.Balloon b = configuredBalloon();
        VmResources.checkStatsInterval(seconds);
        if (state != InstanceState.NOT_STARTED) {
            if ((seconds == 0) != (b.statsPollingIntervalS() == 0)) {
                throw ApiException.badRequest("Cannot enable or disable the balloon statistics after boot.");
            }
            try {
                backend.setBalloonStatsInterval(seconds);
            } catch (VmmBackend.BackendException e) {
                throw ApiException.badRequest("cannot update the balloon statistics: " + e.getMessage());
            }
        }
        resources.patchBalloonInterval(seconds);
    }

    private dev.flint.api.model.Balloon configuredBalloon() {
        dev.flint.api.model.Balloon b = resources.balloon();
        if (b == null) throw ApiException.badRequest(NO_BALLOON);
        return b;
    }

    public synchronized void putSerial(SerialDevice device) { preBoot(() -> resources.putSerial(device)); }

    public synchronized void putLogger(LoggerConfig config) {
        preBoot();
        String path = VmResources.required(config.logPath(), "log_path");
        Level level = LogOutput.level(config.level() == null ? "Info" : config.level());
        if (level == null) {
            throw ApiException.badRequest("level must be one of Error, Warning, Info, Debug, Trace, Off (any case), not `" + config.level() + "`");
        }
        var settings = new LogOutput.Settings(VmResources.hostPath(path, "log_path"), level,
                Boolean.TRUE.equals(config.showLevel()), Boolean.TRUE.equals(config.showLogOrigin()), config.module());
        try {
            LogOutput next = LogOutput.install(settings, instanceId);
            if (logOutput != null) logOutput.close();
            logOutput = next;
        } catch (IOException e) {
            throw ApiException.badRequest("cannot open log_path " + path + ": " + e.getMessage());
        }
        loggerConfig = config;
    }

    public synchronized void putMetrics(MetricsConfig config) {
        preBoot();
        String path = VmResources.required(config.metricsPath(), "metrics_path");
        if (metricsOutput != null) throw ApiException.badRequest("Reinitialization of metrics not allowed.");
        try {
            metricsOutput = MetricsOutput.open(VmResources.hostPath(path, "metrics_path"), Json.mapper(),
                    this::allCounters, Boolean.TRUE.equals(config.emitId()) ? instanceId : null, config.properties());
        } catch (IOException e) {
            throw ApiException.badRequest("cannot open metrics_path " + path + ": " + e.getMessage());
        }
        metricsConfig = config;
    }

    /** The API's own counters and the backend's, one namespace. */
    private Map<String, Long> allCounters() {
        Map<String, Long> all = new TreeMap<>(metrics.snapshot());
        all.putAll(backend.counters());
        return all;
    }

    public synchronized void action(InstanceActionInfo action) {
        String type = VmResources.required(action.actionType(), "action_type");
        switch (type) {
            case "InstanceStart" -> start();
            case "SendCtrlAltDel" -> {
                postBoot();
                backend.sendCtrlAltDel();
            }
            case "FlushMetrics" -> flushMetrics();
            default -> throw ApiException.badRequest(
                    "action_type must be one of FlushMetrics, InstanceStart, SendCtrlAltDel, not `" + type + "`");
        }
    }

    public synchronized void patchVm(VmState desired) {
        String wanted = VmResources.required(desired.state(), "state");
        VmResources.oneOf(wanted, "state", java.util.Set.of("Paused", "Resumed"));
        postBoot();
        if (wanted.equals("Paused") && state == InstanceState.RUNNING) {
            backend.pause();
            state = InstanceState.PAUSED;
            LOG.info("microVM paused");
        } else if (wanted.equals("Resumed") && state == InstanceState.PAUSED) {
            backend.resume();
            state = InstanceState.RUNNING;
            LOG.info("microVM resumed");
        }
    }

    /**
     * {@code PUT /snapshot/create}: a snapshot of the paused microVM, Full (the default) or Diff. A Diff needs
     * dirty page tracking, on since boot ({@code track_dirty_pages} in {@code PUT /machine-config}) or since
     * the load ({@code track_dirty_pages} in {@code PUT /snapshot/load}); without it the request is refused.
     */
    public synchronized void createSnapshot(dev.flint.api.model.SnapshotCreateParams params) {
        Path statePath = VmResources.hostPath(VmResources.required(params.snapshotPath(), "snapshot_path"), "snapshot_path");
        Path memPath = VmResources.hostPath(VmResources.required(params.memFilePath(), "mem_file_path"), "mem_file_path");
        String type = params.snapshotType() == null ? "Full" : params.snapshotType();
        VmResources.oneOf(type, "snapshot_type", java.util.Set.of("Full", "Diff"));
        postBoot();
        if (state != InstanceState.PAUSED) {
            throw ApiException.badRequest("the microVM must be paused to create a snapshot (PATCH /vm {\"state\": \"Paused\"} first)");
        }
        boolean diff = type.equals("Diff");
        if (diff && !trackingDirtyPages) {
            throw ApiException.badRequest("snapshot_type Diff needs dirty page tracking, which is off for this microVM: set "
                    + "\"track_dirty_pages\": true in PUT /machine-config before InstanceStart, or in PUT /snapshot/load");
        }
        try {
            backend.createSnapshot(statePath, memPath, netIds, diff);
        } catch (VmmBackend.BackendException e) {
            throw ApiException.badRequest("cannot create the snapshot: " + e.getMessage());
        }
    }

    /**
     * {@code PUT /snapshot/load}: before boot only, as in Firecracker. The machine is built from the
     * snapshot (its configuration included); guest memory is mapped copy-on-write from the memory file.
     */
    public synchronized void loadSnapshot(dev.flint.api.model.SnapshotLoadParams params) {
        Path statePath = VmResources.hostPath(VmResources.required(params.snapshotPath(), "snapshot_path"), "snapshot_path");
        if ((params.memBackend() == null) == (params.memFilePath() == null)) {
            throw ApiException.badRequest("exactly one of mem_backend and mem_file_path must be given");
        }
        String memFile = params.memFilePath();
        if (params.memBackend() != null) {
            String type = VmResources.required(params.memBackend().backendType(), "mem_backend.backend_type");
            VmResources.oneOf(type, "mem_backend.backend_type", java.util.Set.of("File", "Uffd"));
            if (type.equals("Uffd")) throw ApiException.notSupported("mem_backend backend_type Uffd");
            memFile = VmResources.required(params.memBackend().backendPath(), "mem_backend.backend_path");
        }
        Path memPath = VmResources.hostPath(memFile, "mem_backend.backend_path");
        // enable_diff_snapshots is the field's deprecated name.
        boolean track = Boolean.TRUE.equals(params.trackDirtyPages()) || Boolean.TRUE.equals(params.enableDiffSnapshots());
        if (Boolean.TRUE.equals(params.clockRealtime())) throw ApiException.notSupported("clock_realtime");
        if (params.hugePages() != null && !params.hugePages().equals("None") && !params.hugePages().equals("Snapshot")) {
            throw ApiException.notSupported("huge_pages " + params.hugePages());
        }
        if (params.vsockOverride() != null) throw ApiException.badRequest("vsock_override: Flint's snapshots hold no vsock device");
        Map<String, String> overrides = new TreeMap<>();
        if (params.networkOverrides() != null) {
            for (var o : params.networkOverrides()) {
                if (o == null) throw ApiException.badRequest("network_overrides: null entry");
                String id = VmResources.required(o.ifaceId(), "network_overrides.iface_id");
                String tap = VmResources.required(o.hostDevName(), "network_overrides.host_dev_name");
                String problem = dev.flint.devices.virtio.net.NetConfig.nameProblem(tap);
                if (problem != null) throw ApiException.badRequest("network_overrides.host_dev_name " + tap + ": " + problem);
                if (overrides.put(id, tap) != null) throw ApiException.badRequest("network_overrides names " + id + " twice");
            }
        }
        preBoot();
        boolean resume = Boolean.TRUE.equals(params.resumeVm());
        CompletableFuture<StopReason> running;
        try {
            running = backend.loadSnapshot(statePath, memPath, resume, overrides, resources.serialOut(), mmds, track);
        } catch (VmmBackend.BackendException e) {
            LOG.warning("snapshot load failed: " + e.getMessage());
            throw ApiException.badRequest("cannot load the snapshot: " + e.getMessage());
        }
        var balloon = backend.runningBalloon();
        if (balloon != null) resources.adoptBalloon(balloon);
        state = resume ? InstanceState.RUNNING : InstanceState.PAUSED;
        trackingDirtyPages = track;
        LOG.info(() -> "microVM " + instanceId + " loaded from snapshot " + statePath + (resume ? " and resumed" : " (paused)"));
        running.whenComplete((reason, failure) -> {
            StopReason why = failure != null ? new StopReason.Error(failure.toString(), failure) : reason;
            LOG.info(() -> "microVM " + instanceId + " stopped: " + why);
            stopped.complete(why);
        });
    }

    /** Applies a whole configuration (a {@code --config-file}) section by section, then boots. */
    public synchronized void bootFrom(FullVmConfiguration config) {
        if (config.logger() != null) putLogger(config.logger());
        if (config.metrics() != null) putMetrics(config.metrics());
        if (config.machineConfig() != null) putMachineConfig(config.machineConfig());
        putBootSource(VmResources.required(config.bootSource(), "boot-source"));
        if (config.drives() != null) config.drives().forEach(d -> putDrive(VmResources.required(d.driveId(), "drive_id"), d));
        if (config.networkInterfaces() != null) {
            config.networkInterfaces().forEach(n -> putNetworkInterface(VmResources.required(n.ifaceId(), "iface_id"), n));
        }
        if (config.entropy() != null) putEntropy(config.entropy());
        if (config.mmdsConfig() != null) putMmdsConfig(config.mmdsConfig());
        if (config.vsock() != null) putVsock(config.vsock());
        if (config.balloon() != null) putBalloon(config.balloon());
        start();
    }

    private void start() {
        preBoot();
        MachineSpec basic = resources.toSpec(backend.capabilities(), bootTimer);
        MachineSpec spec = mmdsConfig == null ? basic : basic.withMmds(mmds, mmdsConfig.networkInterfaces());
        CompletableFuture<StopReason> running;
        try {
            running = backend.start(spec);
        } catch (VmmBackend.BackendException e) {
            LOG.warning("InstanceStart failed: " + e.getMessage());
            throw ApiException.badRequest("cannot start the microVM: " + e.getMessage());
        }
        state = InstanceState.RUNNING;
        trackingDirtyPages = spec.trackDirtyPages();
        nvmeControllers = spec.nvmeControllers();
        int controller = 0;
        Map<String, Integer> bootSlots = backend.bootHotplugSlots();
        for (MachineSpec.DriveSpec d : spec.drives()) {
            if (d.hotpluggable()) {
                // In a hot-pluggable slot from boot: it leaves as one hot-plugged while the guest runs does.
                Integer slot = bootSlots.get(d.id());
                if (slot == null) { // a backend that cannot say: the drive stays, and cannot be detached while it runs
                    LOG.warning("the VMM did not say which PCI slot drive " + d.id() + " is in; it cannot be detached while the"
                            + " microVM runs");
                    continue;
                }
                hotplugSlots.put(d.id(), slot);
                resources.hotplugState(d.id(), HOTPLUG_ATTACHED);
            } else if (d.nvme()) {
                nvmeSlots.put(d.id(), new NvmeSlot(controller++, 1));
            }
        }
        netIds = spec.networkInterfaces().stream().map(MachineSpec.NetSpec::id).toList();
        LOG.info(() -> "microVM " + instanceId + " started: " + spec.vcpus() + " vCPU, " + spec.memoryMib()
                + " MiB, kernel " + spec.kernel());
        running.whenComplete((reason, failure) -> {
            StopReason why = failure != null ? new StopReason.Error(failure.toString(), failure) : reason;
            LOG.info(() -> "microVM " + instanceId + " stopped: " + why);
            stopped.complete(why);
        });
    }

    private void flushMetrics() {
        if (metricsOutput == null) throw ApiException.badRequest("the metrics system is not initialized (PUT /metrics first)");
        try {
            metricsOutput.flush();
        } catch (IOException e) {
            throw ApiException.badRequest("cannot write metrics: " + e.getMessage());
        }
    }

    private void preBoot() {
        if (state != InstanceState.NOT_STARTED) throw ApiException.badRequest(NOT_AFTER_START);
    }

    /** Runs a configuration change if the microVM has not started; refuses it as Firecracker does if it has. */
    private void preBoot(Runnable change) {
        preBoot();
        change.run();
    }

    private void postBoot() {
        if (state == InstanceState.NOT_STARTED) throw ApiException.badRequest(NOT_BEFORE_START);
    }

    /** Writes a last metrics line (Firecracker flushes on exit too) and closes the outputs; idempotent. */
    @Override
    public synchronized void close() {
        if (metricsOutput != null) {
            try (MetricsOutput last = metricsOutput) {
                last.flush();
            } catch (IOException e) {
                LOG.warning("final metrics flush failed: " + e.getMessage());
            }
            metricsOutput = null;
        }
        if (logOutput != null) {
            logOutput.close();
            logOutput = null;
        }
    }
}
