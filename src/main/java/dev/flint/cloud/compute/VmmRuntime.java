package dev.flint.cloud.compute;

import dev.flint.guest.GuestAssets;
import dev.flint.guest.Initramfs;
import dev.flint.sys.NetNamespaces;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Instances as {@code flint vmm} processes on this host: one VMM per instance, started in its own session
 * (so it outlives the daemon), driven through the Firecracker API on its own Unix socket, booting Debian's
 * stock kernel and Flint's default initramfs with the instance's root volume as {@code /dev/vda}, one NIC
 * on a TAP of the instance bridge and the boot-timer device.
 *
 * <p>Files, under the runtime folder: {@code instances/ID/} holds {@code console.log} (the serial console;
 * emptied at each launch), {@code vmm.log} (the VMM's stderr, where {@code Guest-boot-time} appears when the
 * guest's init is done) and {@code vmm.properties} (pid and start time, see {@link VmmRecord});
 * {@code sockets/ID.sock} is the API socket.
 *
 * <p>One watcher thread polls every instance a few times a second: a boot-time line in the log means
 * {@link Listener#booted}; a dead process means {@link Listener#exited}, after its TAP and guard entries are
 * removed. Survivors of an earlier daemon are watched the same way once {@link #adoptSurvivors} found them.
 */
public final class VmmRuntime implements InstanceRuntime {
    private static final Logger LOG = Logger.getLogger(VmmRuntime.class.getName());
    /** The newest console bytes kept for GetConsoleOutput, as EC2 keeps 64 KiB. */
    static final int CONSOLE_BYTES = 64 * 1024;
    /**
     * Host memory kept back from instances: the daemon, the host itself, and each VMM's own JVM (about
     * 150 MiB apart from guest RAM).
     */
    public static final long MEMORY_RESERVE_MIB = 1024;
    /** A console or VMM log larger than this is cut back to its newest {@link #CONSOLE_BYTES}: a guest may print forever. */
    static final long LOG_LIMIT = 4L << 20;
    private static final Duration POLL = Duration.ofMillis(250);
    private static final Duration API_READY = Duration.ofSeconds(120);
    private static final String BOOTED_LINE = "Guest-boot-time";

    /**
     * Where and how instances run.
     *
     * @param runtimeDir    per-instance files and API sockets (paths must stay short: sockets take ≤ 107 bytes)
     * @param assets        the guest cache with the kernel and the default initramfs
     * @param launcher      how to start {@code flint vmm}
     * @param host          where {@code ip}/{@code nft} and the VMMs run (the daemon's namespace: no prefix)
     * @param netnsPath     for tests: the namespace file whose network the metadata server joins; null: this one
     * @param metadataPort  80 in production
     * @param engine        {@code auto}, {@code kvm} or {@code emu}
     */
    public record Options(Path runtimeDir, GuestAssets assets, VmmLauncher launcher, HostCommands host,
                          String netnsPath, int metadataPort, String engine) {
        /** Production: this JVM's Flint, the daemon's namespace, port 80, the host's best engine. */
        public static Options defaults(Path runtimeDir, GuestAssets assets) {
            return new Options(runtimeDir, assets, VmmLauncher.ofThisJvm(), HostCommands.here(), null, 80, "auto");
        }

        /** The same, with everything in the named network namespace ({@code ip netns}): for tests. */
        public Options inNamespace(String name) {
            return new Options(runtimeDir, assets, launcher, new HostCommands(List.of("ip", "netns", "exec", name)),
                    "/var/run/netns/" + name, metadataPort, engine);
        }
    }

    /** One watched VMM. {@code process} is set for VMMs this runtime started (so their exit status is known). */
    private static final class Watched {
        final VmmRecord record;
        final ProcessHandle handle;
        final Process process;
        volatile boolean booted;
        long logOffset;

        Watched(VmmRecord record, ProcessHandle handle, Process process) {
            this.record = record;
            this.handle = handle;
            this.process = process;
        }
    }

    private final Options options;
    private final Listener listener;
    private final InstanceNetwork network;
    private final MetadataServer metadata;
    private final Map<String, Watched> watched = new ConcurrentHashMap<>();
    /** Instances between the start of launch() and the moment they are watched: a second launch is refused. */
    private final Set<String> launching = ConcurrentHashMap.newKeySet();
    private final Thread watcher;
    private final UsageSampler usage = new UsageSampler();
    private volatile boolean closed;

    /**
     * What {@code flint cloud serve} uses: instances in {@code runtimeDir}, the guest cache's kernel, this
     * JVM's Flint as the VMM, the daemon's own network namespace, the metadata service on port 80.
     */
    public VmmRuntime(Listener listener, MetadataSource metadata, Path runtimeDir) throws RuntimeFailure {
        this(Options.defaults(runtimeDir, GuestAssets.open(GuestAssets.defaultCacheDir())), metadata, listener);
    }

    /**
     * Sets up the instance network (bridge, NAT, guard, keeping the ports of surviving VMMs guarded) and
     * the metadata service, and starts watching. Call {@link #adoptSurvivors} next to take back running VMMs.
     */
    public static VmmRuntime start(Options options, MetadataSource metadata, Listener listener) throws RuntimeFailure {
        return new VmmRuntime(options, metadata, listener);
    }

    private VmmRuntime(Options options, MetadataSource metadata, Listener listener) throws RuntimeFailure {
        this.options = options;
        this.listener = listener;
        try {
            Files.createDirectories(options.runtimeDir().resolve("instances"));
            Files.createDirectories(options.runtimeDir().resolve("sockets"));
        } catch (IOException e) {
            throw new RuntimeFailure("cannot create " + options.runtimeDir() + ": " + e.getMessage(), e);
        }
        this.network = new InstanceNetwork(options.host());
        try {
            network.setUp(records(options.runtimeDir()).stream().filter(r -> r.live().isPresent()).map(VmmRecord::port).toList());
        } catch (IOException e) {
            throw new RuntimeFailure("cannot set up the instance network: " + e.getMessage(), e);
        }
        try {
            this.metadata = options.netnsPath() == null
                    ? MetadataServer.start(metadata, InstanceNetwork.METADATA_ADDRESS, options.metadataPort())
                    : NetNamespaces.callIn(options.netnsPath(),
                            () -> MetadataServer.start(metadata, InstanceNetwork.METADATA_ADDRESS, options.metadataPort()));
        } catch (Exception e) {
            throw new RuntimeFailure("cannot serve instance metadata on " + InstanceNetwork.METADATA_ADDRESS + ":"
                    + options.metadataPort() + ": " + e.getMessage(), e);
        }
        this.watcher = Thread.ofPlatform().daemon().name("flint-vmm-watcher").start(this::watchLoop);
    }

    private Path instanceDir(String id) { return options.runtimeDir().resolve("instances").resolve(id); }

    private Path socket(String id) { return options.runtimeDir().resolve("sockets").resolve(id + ".sock"); }

    @Override
    public void applyFirewall(FirewallPlan plan) throws RuntimeFailure {
        try {
            network.applyFirewall(plan);
        } catch (IOException e) {
            throw new RuntimeFailure("cannot apply the security groups: " + e.getMessage(), e);
        }
    }

    @Override
    public void launch(LaunchSpec spec) throws RuntimeFailure {
        String id = spec.instanceId();
        if (!id.matches("[A-Za-z0-9-]{1,64}")) throw new RuntimeFailure("bad instance id: " + id);
        if (!launching.add(id)) throw new RuntimeFailure("instance " + id + " is being launched already");
        try {
            if (isRunning(id)) throw new RuntimeFailure("instance " + id + " already runs");
            start(spec);
        } finally {
            launching.remove(id);
        }
    }

    private void start(LaunchSpec spec) throws RuntimeFailure {
        String id = spec.instanceId();
        Path dir = instanceDir(id), sock = socket(id);
        if (sock.toString().getBytes(StandardCharsets.UTF_8).length > 107) {
            throw new RuntimeFailure("the API socket path " + sock + " is too long for a Unix socket");
        }
        InstanceNetwork.Port port;
        try {
            port = InstanceNetwork.port(spec.privateIp(), spec.macAddress());
        } catch (IllegalArgumentException e) {
            throw new RuntimeFailure(e.getMessage());
        }
        Process process = null;
        boolean portAdded = false;
        try {
            Files.createDirectories(dir);
            Files.deleteIfExists(sock);
            Files.write(dir.resolve(SerialConsole.OUTPUT), new byte[0]);
            SerialConsole.prepare(dir);
            Files.write(dir.resolve("vmm.log"), new byte[0]);
            network.addPort(port);
            portAdded = true;
            // setsid: its own session and process group, so neither the daemon's end nor a signal to the
            // daemon's group reaches the VMM.
            List<String> command = new ArrayList<>(options.host().wrap(List.of("setsid")));
            // The console's FIFO is opened read-write by the VMM itself (the shell's <>, then exec, so the pid
            // stays the VMM's): it then never reads end of input while no one types, across daemon restarts too.
            command.addAll(List.of("sh", "-c", "f=$1; shift; exec \"$@\" <>\"$f\"", "sh",
                    dir.resolve(SerialConsole.INPUT).toString()));
            command.addAll(options.launcher().vmm(sock, id, options.engine()));
            process = new ProcessBuilder(command)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve(SerialConsole.OUTPUT).toFile()))
                    .redirectError(ProcessBuilder.Redirect.appendTo(dir.resolve("vmm.log").toFile()))
                    .start();
            ProcessHandle handle = process.toHandle();
            VmmRecord record = new VmmRecord(id, handle.pid(), handle.info().startInstant().orElseThrow(
                    () -> new IOException("no start time for pid " + handle.pid())), port);
            record.write(dir.resolve("vmm.properties"));
            FirecrackerClient api = new FirecrackerClient(sock);
            api.awaitReady(API_READY, process);
            configure(api, spec, port);
            watched.put(id, new Watched(record, handle, process));
        } catch (IOException | InterruptedException | RuntimeException e) {
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
            if (process != null) {
                process.destroyForcibly();
                try {
                    process.waitFor();
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                }
            }
            if (portAdded) network.removePort(port);
            deleteQuietly(dir.resolve("vmm.properties"));
            deleteQuietly(sock);
            throw new RuntimeFailure("cannot launch " + id + ": " + e.getMessage() + vmmError(dir), e);
        }
    }

    /** The machine, over the API: kernel and initramfs, shape, disks, entropy, NIC, then InstanceStart. */
    private void configure(FirecrackerClient api, LaunchSpec spec, InstanceNetwork.Port port) throws IOException {
        GuestAssets assets = options.assets();
        // cryptomgr.notests: the kernel's self-tests of its crypto algorithms (RSA's multi-precision
        // arithmetic above all) cost many seconds on the emu engine and guard against broken builds of the
        // kernel, not against anything an instance does; FIPS mode (fips=1) would run them regardless.
        // flint.hotplug=nvme: the initramfs loads the nvme driver even when no volume is attached at launch, so that
        // volumes hot-plugged while the instance runs find it (the image has no udev to load it on the event).
        String bootArgs = "console=ttyS0 reboot=k panic=-1 cryptomgr.notests " + Initramfs.HOTPLUG_NVME + " flint.ip=" + port.ip()
                + "/" + InstanceNetwork.PREFIX + " flint.gw=" + InstanceNetwork.GATEWAY;
        api.put("/boot-source", "{\"kernel_image_path\": " + json(assets.kernel().toString())
                + ", \"initrd_path\": " + json(assets.defaultInitrd().toString()) + ", \"boot_args\": " + json(bootArgs) + "}");
        api.put("/machine-config", "{\"vcpu_count\": " + spec.vcpus() + ", \"mem_size_mib\": " + spec.memoryMib() + "}");
        api.put("/drives/root", "{\"drive_id\": \"root\", \"path_on_host\": " + json(spec.rootVolume().toAbsolutePath().toString())
                + ", \"is_root_device\": true, \"is_read_only\": false}");
        // Each data volume is an NVMe controller of its own whose serial is the volume id without the dash, as on EC2
        // (/dev/disk/by-id/nvme-*_vol0123...), in a hot-pluggable PCI slot ("nvme_controller": "new"), so that a
        // DetachVolume asks the guest to let go of it exactly as for a volume attached while the instance runs.
        for (Disk volume : spec.dataVolumes()) {
            api.put("/drives/" + volume.serial(), "{\"drive_id\": " + json(volume.serial()) + ", \"path_on_host\": "
                    + json(volume.file().toAbsolutePath().toString()) + ", \"is_root_device\": false, \"is_read_only\": false"
                    + ", \"interface\": \"nvme\", \"nvme_controller\": \"new\"}");
        }
        api.put("/entropy", "{}");
        api.put("/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": " + json(port.tap())
                + ", \"guest_mac\": " + json(port.mac()) + "}");
        api.put("/actions", "{\"action_type\": \"InstanceStart\"}");
    }

    /** A JSON string literal. */
    static String json(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                default -> {
                    if (c < 0x20) b.append(String.format("\\u%04x", (int) c)); else b.append(c);
                }
            }
        }
        return b.append('"').toString();
    }

    /** The VMM's last stderr line, for an error message. */
    /**
     * Whether the VMM ended because the guest reset its machine: a clean exit after the VMM's reset line (the log
     * starts empty at each launch, so a line there is from this run).
     */
    private static boolean guestReset(Path dir, Watched w) {
        if (w.process != null && w.process.exitValue() != 0) return false;
        try {
            return Files.readAllLines(dir.resolve("vmm.log"), StandardCharsets.UTF_8).stream()
                    .anyMatch(l -> l.startsWith(dev.flint.api.VmmCommand.GUEST_RESET));
        } catch (IOException | UncheckedIOException e) {
            return false;
        }
    }

    private static String vmmError(Path dir) {
        try {
            List<String> lines = Files.readAllLines(dir.resolve("vmm.log"), StandardCharsets.UTF_8);
            return lines.stream().filter(l -> l.startsWith("flint")).reduce((a, b) -> b).map(l -> " (" + l + ")").orElse("");
        } catch (IOException | UncheckedIOException e) {
            return "";
        }
    }

    @Override
    public void requestShutdown(String instanceId) {
        Watched w = watched.get(instanceId);
        if (w == null) return;
        // The guest's init turns Ctrl+Alt+Del into a clean power-off (CloudImage); the watcher sees the exit.
        Thread.ofVirtual().name("flint-shutdown-" + instanceId).start(() -> {
            try {
                new FirecrackerClient(socket(instanceId)).put("/actions", "{\"action_type\": \"SendCtrlAltDel\"}");
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.WARNING, "SendCtrlAltDel to " + instanceId + " failed: " + e.getMessage());
            }
        });
    }

    /**
     * Hot-plugs the volume as an NVMe controller of its own whose serial is the volume id without the dash, as
     * on EC2 and as at launch: {@code "nvme_controller": "new"} on the VMM, announced to the guest by ACPI PCI
     * hot-plug (docs/cloud-ebs.md).
     */
    @Override
    public void attachVolume(String instanceId, Disk disk) throws RuntimeFailure {
        FirecrackerClient api = liveApi(instanceId);
        try {
            api.put("/drives/" + disk.serial(), "{\"drive_id\": " + json(disk.serial()) + ", \"path_on_host\": "
                    + json(disk.file().toAbsolutePath().toString()) + ", \"is_root_device\": false, \"is_read_only\": false"
                    + ", \"interface\": \"nvme\", \"nvme_controller\": \"new\"}");
        } catch (IOException e) {
            throw new RuntimeFailure("the VMM refused the volume: " + e.getMessage(), e);
        }
    }

    /**
     * {@code DELETE /drives/ID}: the volume (hot-plugged while the instance ran, or in a hot-pluggable slot since
     * launch) is asked back from the guest (the VMM answers 202) and this waits, looking at the VMM's drive list,
     * until the guest ejected it and the VMM closed the file, or the VMM is gone.
     */
    @Override
    public void detachVolume(String instanceId, Disk disk) throws RuntimeFailure {
        if (removeDrive(instanceId, disk, null) == 202) awaitDriveGone(instanceId, disk);
    }

    /** {@code DELETE /drives/ID {"force": true}}: the VMM removes the controller at once and closes the file. */
    @Override
    public void forceDetachVolume(String instanceId, Disk disk) throws RuntimeFailure {
        if (removeDrive(instanceId, disk, "{\"force\": true}") == 202) awaitDriveGone(instanceId, disk);
    }

    private int removeDrive(String instanceId, Disk disk, String body) throws RuntimeFailure {
        FirecrackerClient api = liveApi(instanceId);
        try {
            FirecrackerClient.Response r = api.send("DELETE", "/drives/" + disk.serial(), body);
            if (r.status() / 100 != 2) throw new RuntimeFailure("the VMM refused to detach it: HTTP " + r.status() + " " + r.body().strip());
            return r.status();
        } catch (IOException e) {
            throw new RuntimeFailure("the VMM did not answer: " + e.getMessage(), e);
        }
    }

    /** Waits until the VMM no longer lists the drive (the guest ejected it; the file is closed) or the VMM is gone. */
    private void awaitDriveGone(String instanceId, Disk disk) throws RuntimeFailure {
        String quoted = "\"drive_id\":" + json(disk.serial());
        while (true) {
            FirecrackerClient.Response r;
            try {
                r = liveApi(instanceId).send("GET", "/vm/config", null);
            } catch (IOException e) {
                throw new RuntimeFailure("the VMM did not answer: " + e.getMessage(), e);
            }
            if (r.status() == 200 && !r.body().replace(" ", "").contains(quoted)) return;
            try {
                Thread.sleep(POLL);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new RuntimeFailure("interrupted while the guest held the volume", e);
            }
        }
    }

    @Override
    public void resizeVolume(String instanceId, Disk disk) throws RuntimeFailure {
        FirecrackerClient api = liveApi(instanceId);
        try {
            // Firecracker's way to say "the file changed": PATCH the drive with its own path_on_host.
            FirecrackerClient.Response r = api.send("PATCH", "/drives/" + disk.serial(), "{\"drive_id\": " + json(disk.serial())
                    + ", \"path_on_host\": " + json(disk.file().toAbsolutePath().toString()) + "}");
            if (r.status() / 100 != 2) throw new RuntimeFailure("the VMM refused the new size: HTTP " + r.status() + " " + r.body().strip());
        } catch (IOException e) {
            throw new RuntimeFailure("the VMM did not answer: " + e.getMessage(), e);
        }
    }

    @Override
    public void pause(String instanceId) throws RuntimeFailure {
        vmState(instanceId, "Paused");
    }

    @Override
    public void resume(String instanceId) throws RuntimeFailure {
        vmState(instanceId, "Resumed");
    }

    private void vmState(String instanceId, String state) throws RuntimeFailure {
        FirecrackerClient api = liveApi(instanceId);
        try {
            FirecrackerClient.Response r = api.send("PATCH", "/vm", "{\"state\": \"" + state + "\"}");
            if (r.status() / 100 != 2) throw new RuntimeFailure("PATCH /vm " + state + ": HTTP " + r.status() + " " + r.body().strip());
        } catch (IOException e) {
            throw new RuntimeFailure("the VMM did not answer: " + e.getMessage(), e);
        }
    }

    private FirecrackerClient liveApi(String instanceId) throws RuntimeFailure {
        if (!isRunning(instanceId)) throw new RuntimeFailure("its VMM is not running");
        return new FirecrackerClient(socket(instanceId));
    }

    @Override
    public void kill(String instanceId) {
        Watched w = watched.get(instanceId);
        if (w != null) w.handle.destroyForcibly();
    }

    @Override
    public Optional<ConsoleAttachment> attachConsole(String instanceId, Consumer<byte[]> guestOutput) {
        Watched w = watched.get(instanceId);
        if (w == null || !w.handle.isAlive()) return Optional.empty();
        try {
            return Optional.of(SerialConsole.attach(instanceDir(instanceId), guestOutput, () -> isRunning(instanceId)));
        } catch (IOException e) {
            LOG.log(Level.FINE, "no console for " + instanceId + ": " + e.getMessage(), e);
            return Optional.empty();
        }
    }

    @Override
    public List<UsageSample> usage(String instanceId) {
        return usage.recent(instanceId);
    }

    @Override
    public boolean isRunning(String instanceId) {
        Watched w = watched.get(instanceId);
        return w != null && w.handle.isAlive();
    }

    @Override
    public Optional<byte[]> consoleOutput(String instanceId) {
        if (!instanceId.matches("[A-Za-z0-9-]{1,64}")) return Optional.empty();
        Path log = instanceDir(instanceId).resolve("console.log");
        try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "r")) {
            long length = f.length();
            int n = (int) Math.min(length, CONSOLE_BYTES);
            byte[] tail = new byte[n];
            f.seek(length - n);
            f.readFully(tail);
            return Optional.of(tail);
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    @Override
    public List<String> adoptSurvivors() {
        List<String> adopted = new ArrayList<>();
        for (VmmRecord r : records(options.runtimeDir())) {
            if (watched.containsKey(r.instanceId())) continue;
            Optional<ProcessHandle> live = r.live();
            if (live.isPresent()) {
                Watched w = new Watched(r, live.get(), null);
                // A survivor that booted before the restart has its boot line in the log: the watcher
                // reports booted() again, which the control plane treats as "running" (idempotent).
                watched.put(r.instanceId(), w);
                adopted.add(r.instanceId());
            } else {
                // Died while no daemon watched: free its port; the control plane reconciles its state.
                network.removePort(r.port());
                deleteQuietly(instanceDir(r.instanceId()).resolve("vmm.properties"));
                deleteQuietly(socket(r.instanceId()));
            }
        }
        return adopted;
    }

    private static List<VmmRecord> records(Path runtimeDir) {
        Path instances = runtimeDir.resolve("instances");
        if (!Files.isDirectory(instances)) return List.of();
        try (Stream<Path> dirs = Files.list(instances)) {
            return dirs.map(d -> d.resolve("vmm.properties")).filter(Files::isRegularFile)
                    .map(VmmRecord::read).flatMap(Optional::stream).toList();
        } catch (IOException e) {
            LOG.log(Level.WARNING, "cannot list " + instances + ": " + e.getMessage());
            return List.of();
        }
    }

    @Override
    public long memoryCapacityMib() {
        long available = meminfoKib("MemAvailable:") / 1024;
        long ours = 0;
        for (Watched w : watched.values()) ours += rssKib(w.handle.pid()) / 1024;
        return Math.max(0, available + ours - MEMORY_RESERVE_MIB);
    }

    private static long meminfoKib(String key) {
        return fieldKib(Path.of("/proc/meminfo"), key);
    }

    private static long rssKib(long pid) {
        return fieldKib(Path.of("/proc/" + pid + "/status"), "VmRSS:");
    }

    private static long fieldKib(Path file, String key) {
        try {
            for (String line : Files.readAllLines(file)) {
                if (line.startsWith(key)) return Long.parseLong(line.substring(key.length()).trim().split("\\s+")[0]);
            }
        } catch (IOException | RuntimeException e) {
            // a process that just ended has no status file
        }
        return 0;
    }

    private void watchLoop() {
        while (!closed) {
            for (Map.Entry<String, Watched> e : watched.entrySet()) {
                try {
                    check(e.getKey(), e.getValue());
                } catch (RuntimeException ex) {
                    LOG.log(Level.WARNING, "watching " + e.getKey() + " failed", ex);
                }
            }
            try {
                Thread.sleep(POLL);
            } catch (InterruptedException ex) {
                return;
            }
        }
    }

    private void check(String id, Watched w) {
        trim(instanceDir(id).resolve(SerialConsole.OUTPUT));
        if (w.handle.isAlive()) usage.maybeSample(id, w.record.pid(), w.record.port().tap(), System.currentTimeMillis());
        if (trim(instanceDir(id).resolve("vmm.log"))) w.logOffset = 0;
        if (!w.booted && bootLineSeen(id, w)) {
            w.booted = true;
            notify(() -> listener.booted(id));
        }
        if (w.handle.isAlive()) return;
        if (!watched.remove(id, w)) return;
        usage.forget(id);
        network.removePort(w.record.port());
        deleteQuietly(instanceDir(id).resolve("vmm.properties"));
        deleteQuietly(socket(id));
        String detail = exitDetail(id, w);
        if (guestReset(instanceDir(id), w)) notify(() -> listener.reset(id, "the guest rebooted"));
        else notify(() -> listener.exited(id, detail));
    }

    /**
     * Cuts a log the VMM appends to (O_APPEND, so its next write lands at the new end) back to its newest
     * {@link #CONSOLE_BYTES} once it passes {@link #LOG_LIMIT}. Lines written during the cut may be lost.
     */
    static boolean trim(Path log) {
        try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "rw")) {
            long length = f.length();
            if (length <= LOG_LIMIT) return false;
            byte[] tail = new byte[CONSOLE_BYTES];
            f.seek(length - tail.length);
            f.readFully(tail);
            f.setLength(0);
            f.write(tail);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** Reads the VMM log from where the last look stopped, for the boot timer's line. */
    private boolean bootLineSeen(String id, Watched w) {
        Path log = instanceDir(id).resolve("vmm.log");
        try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "r")) {
            long length = f.length();
            if (length <= w.logOffset) return false;
            // Re-read a little before the old end, in case the line was cut in two by the last read.
            long from = Math.max(0, w.logOffset - BOOTED_LINE.length());
            byte[] chunk = new byte[(int) Math.min(length - from, 1 << 20)];
            f.seek(from);
            f.readFully(chunk);
            w.logOffset = from + chunk.length;
            return new String(chunk, StandardCharsets.ISO_8859_1).contains(BOOTED_LINE);
        } catch (IOException e) {
            return false;
        }
    }

    private String exitDetail(String id, Watched w) {
        String last = vmmError(instanceDir(id)).strip();
        if (w.process != null) {
            int status;
            try {
                status = w.process.waitFor();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return "the VMM ended";
            }
            if (status == 0) return "the guest powered off";
            if (status == 137) return "the VMM was killed";
            return "the VMM failed (exit " + status + ")" + (last.isEmpty() ? "" : " " + last);
        }
        return "the VMM ended" + (last.isEmpty() ? "" : " " + last);
    }

    private void notify(Runnable call) {
        try {
            call.run();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "the instance listener failed", e);
        }
    }

    @Override
    public void forget(String instanceId) {
        if (!instanceId.matches("[A-Za-z0-9-]{1,64}") || isRunning(instanceId)) return;
        Path dir = instanceDir(instanceId);
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) deleteQuietly(f);
        } catch (IOException e) {
            // nothing kept, or already gone
        }
        deleteQuietly(dir);
        deleteQuietly(socket(instanceId));
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            // a stale file is harmless: the next launch replaces it
        }
    }

    @Override
    public void close() {
        closed = true;
        watcher.interrupt();
        metadata.close();
    }
}
