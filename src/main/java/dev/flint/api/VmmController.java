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
    /** The started machine's NVMe controllers (drives' and empty ones), the targets of hot attach. */
    private int nvmeControllers;
    /** Where each NVMe drive of the running machine sits (boot-time drives: namespace 1 of their own controller). */
    private final Map<String, NvmeSlot> nvmeSlots = new java.util.HashMap<>();

    /** One NVMe namespace: controller index (0 = the first) and namespace ID. */
    private record NvmeSlot(int controller, int nsid) {}
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
        return new FullVmConfiguration(resources.bootSource(), resources.machineConfig(), resources.drives(),
                resources.networkInterfaces(), resources.entropy(), loggerConfig, metricsConfig, mmdsConfig,
                resources.vsock());
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

    public synchronized void putMachineConfig(MachineConfiguration config) { preBoot(() -> resources.putMachineConfig(config)); }

    public synchronized void patchMachineConfig(MachineConfiguration patch) { preBoot(() -> resources.patchMachineConfig(patch)); }

    public synchronized void putBootSource(BootSource source) { preBoot(() -> resources.putBootSource(source)); }

    /**
     * Before boot, configures a drive. After boot (Flint's extension), attaches an {@code nvme} drive to the
     * running machine as a new namespace of NVMe controller {@code nvme_controller} (default 0); the guest
     * sees it without a reboot. Anything else after boot is refused with one line.
     */
    public synchronized void putDrive(String id, Drive drive) {
        if (state == InstanceState.NOT_STARTED) {
            resources.putDrive(id, drive);
            return;
        }
        int controller = resources.checkHotAttach(id, drive, nvmeControllers);
        var spec = new MachineSpec.DriveSpec(id, java.nio.file.Path.of(drive.pathOnHost()),
                Boolean.TRUE.equals(drive.isReadOnly()), false, drive.partuuid(),
                drive.cacheType() == null ? "Unsafe" : drive.cacheType(), true);
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
        if (state == InstanceState.NOT_STARTED) {
            if (!resources.hasDrive(id)) throw ApiException.badRequest("no drive " + id);
            resources.detached(id);
            return;
        }
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

    public synchronized void patchDrive(String id, PartialDrive patch) {
        refuseRuntimeUpdate(id, patch.driveId(), "drive_id", "drive", resources.hasDrive(id));
    }

    public synchronized void putNetworkInterface(String id, NetworkInterface net) {
        preBoot(() -> resources.putNetworkInterface(id, net));
    }

    public synchronized void patchNetworkInterface(String id, PartialNetworkInterface patch) {
        refuseRuntimeUpdate(id, patch.ifaceId(), "iface_id", "network interface", resources.hasNetworkInterface(id));
    }

    /**
     * PATCH of a device is post-boot only in Firecracker (new backing file, new rate limiters). Flint has
     * no runtime device updates yet, so after the body and state checks the answer is an honest refusal.
     */
    private void refuseRuntimeUpdate(String pathId, String bodyId, String idField, String what, boolean configured) {
        VmResources.sameId(pathId, VmResources.required(bodyId, idField), what);
        postBoot();
        if (!configured) throw ApiException.badRequest("no " + what + " with id " + pathId + " is attached to the running microVM");
        throw ApiException.notSupported("updating a " + what + " of a running microVM");
    }

    public synchronized void putEntropy(EntropyDevice device) { preBoot(() -> resources.putEntropy(device)); }

    public synchronized void putVsock(dev.flint.api.model.Vsock device) { preBoot(() -> resources.putVsock(device)); }

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
        nvmeControllers = spec.nvmeControllers();
        int controller = 0;
        for (MachineSpec.DriveSpec d : spec.drives()) if (d.nvme()) nvmeSlots.put(d.id(), new NvmeSlot(controller++, 1));
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
