package dev.flint.api;

import dev.flint.api.model.BootSource;
import dev.flint.api.model.Drive;
import dev.flint.api.model.EntropyDevice;
import dev.flint.api.model.MachineConfiguration;
import dev.flint.api.model.NetworkInterface;
import dev.flint.api.model.RateLimiter;
import dev.flint.api.model.SerialDevice;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The pre-boot configuration built up by PUT/PATCH requests (or a config file), validated field by
 * field as it arrives so that InstanceStart only fails for reasons that depend on the VMM. Not
 * thread-safe: {@link VmmController} serializes access.
 */
final class VmResources {
    /** Firecracker's limit on vCPUs per microVM. */
    static final int MAX_VCPUS = 32;
    /**
     * Kernel command line when boot-source has no boot_args: the same as {@code flint run}'s. Firecracker's
     * default turns the serial port and PCI off, but Flint's devices sit on PCI and its default guest talks
     * on ttyS0; "reboot=k" and a panic that reboots at once make a guest reboot or panic end the VM.
     */
    static final String DEFAULT_BOOT_ARGS = "console=ttyS0 reboot=k panic=-1";

    private static final Pattern MAC = Pattern.compile("([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}");
    private static final Pattern DEVICE_ID = Pattern.compile("[A-Za-z0-9_-]{1,64}");
    private static final int IFNAMSIZ = 16;
    /** Empty NVMe controllers a machine may ask for; each takes a PCI slot, and 8 is plenty for volumes. */
    static final int MAX_EMPTY_NVME_CONTROLLERS = 8;

    private MachineConfiguration machine = MachineConfiguration.defaults();
    private BootSource bootSource;
    private final Map<String, Drive> drives = new LinkedHashMap<>();
    private final Map<String, NetworkInterface> nets = new LinkedHashMap<>();
    private EntropyDevice entropy;
    private SerialDevice serial;
    private dev.flint.api.model.Vsock vsock;
    private dev.flint.api.model.Balloon balloon;

    MachineConfiguration machineConfig() { return machine; }

    BootSource bootSource() { return bootSource; }

    List<Drive> drives() { return List.copyOf(drives.values()); }

    List<NetworkInterface> networkInterfaces() { return List.copyOf(nets.values()); }

    EntropyDevice entropy() { return entropy; }

    dev.flint.api.model.Vsock vsock() { return vsock; }

    /** The balloon as configured (its target follows PATCH /balloon), or null. */
    dev.flint.api.model.Balloon balloon() { return balloon; }

    boolean hasDrive(String id) { return drives.containsKey(id); }

    boolean hasNetworkInterface(String id) { return nets.containsKey(id); }

    void putMachineConfig(MachineConfiguration config) {
        required(config.vcpuCount(), "vcpu_count");
        required(config.memSizeMib(), "mem_size_mib");
        // PUT resets every optional field that is absent to its default, as Firecracker documents.
        machine = checkBalloonFits(checkMachine(MachineConfiguration.defaults().patchedWith(config)));
    }

    void patchMachineConfig(MachineConfiguration patch) {
        machine = checkBalloonFits(checkMachine(machine.patchedWith(patch)));
    }

    /** As in Firecracker, the memory cannot shrink below a balloon configured already. */
    private MachineConfiguration checkBalloonFits(MachineConfiguration c) {
        if (balloon != null && c.memSizeMib() < balloon.amountMib()) {
            throw ApiException.badRequest("mem_size_mib " + c.memSizeMib() + " is less than the balloon's amount_mib "
                    + balloon.amountMib());
        }
        return c;
    }

    private static MachineConfiguration checkMachine(MachineConfiguration c) {
        if (c.vcpuCount() < 1 || c.vcpuCount() > MAX_VCPUS) {
            throw ApiException.badRequest("vcpu_count must be between 1 and " + MAX_VCPUS + ", not " + c.vcpuCount());
        }
        if (c.memSizeMib() < 1) throw ApiException.badRequest("mem_size_mib must be at least 1, not " + c.memSizeMib());
        if (c.smt()) throw ApiException.notSupported("smt (simultaneous multithreading)");
        if (c.cpuTemplate() != null && !c.cpuTemplate().equals("None")) {
            throw ApiException.notSupported("cpu_template " + c.cpuTemplate());
        }
        oneOf(c.hugePages(), "huge_pages", Set.of("None", "Transparent", "2M"));
        if (!c.hugePages().equals("None")) throw ApiException.notSupported("huge_pages " + c.hugePages());
        if (c.nvmeControllers() != null && (c.nvmeControllers() < 0 || c.nvmeControllers() > MAX_EMPTY_NVME_CONTROLLERS)) {
            throw ApiException.badRequest("nvme_controllers must be between 0 and " + MAX_EMPTY_NVME_CONTROLLERS
                    + ", not " + c.nvmeControllers());
        }
        return c;
    }

    void putBootSource(BootSource source) {
        readableFile(required(source.kernelImagePath(), "kernel_image_path"), "kernel_image_path");
        if (source.initrdPath() != null) readableFile(source.initrdPath(), "initrd_path");
        bootSource = source;
    }

    void putDrive(String pathId, Drive drive) {
        boolean root = checkDrive(pathId, drive);
        if (drive.wantsNewController()) {
            // A controller of its own in a hot-pluggable slot from boot: it leaves as a hot-plugged one does.
            if (!"nvme".equals(drive.iface())) {
                throw ApiException.badRequest("nvme_controller \"new\" is for \"interface\": \"nvme\" drives");
            }
            if (root) throw ApiException.badRequest("the root device cannot be in a hot-pluggable slot (nvme_controller \"new\")");
        } else if (drive.nvmeController() != null) {
            throw ApiException.badRequest("nvme_controller before InstanceStart can only be \"new\" (a controller of the drive's "
                    + "own in a hot-pluggable PCI slot); a namespace of an existing controller is for a running microVM");
        }
        if (root) {
            for (Drive other : drives.values()) {
                if (Boolean.TRUE.equals(other.isRootDevice()) && !other.driveId().equals(pathId)) {
                    throw ApiException.badRequest("a root block device already exists: " + other.driveId());
                }
            }
        }
        drives.put(pathId, drive);
    }

    /** What {@link #checkHotAttach} answers for {@code "nvme_controller": "new"}: a controller of the drive's own. */
    static final int NEW_CONTROLLER = -1;

    /**
     * Checks a drive to attach to the running machine as a namespace of one of its {@code controllers}
     * NVMe controllers and returns that controller's index, or {@link #NEW_CONTROLLER} for
     * {@code "nvme_controller": "new"} (a controller of its own, hot-plugged on the PCI bus). Only NVMe drives
     * can come after boot (virtio-blk is not hot-plugged), and a root device is a boot-time choice.
     */
    int checkHotAttach(String pathId, Drive drive, int controllers) {
        boolean root = checkDrive(pathId, drive);
        if (!"nvme".equals(drive.iface())) {
            throw ApiException.badRequest("only an \"interface\": \"nvme\" drive can be attached to a running microVM "
                    + "(virtio-blk hot-plug is not supported)");
        }
        if (drive.nvmeController() != null && !drive.nvmeController().canConvertToInt() && !drive.wantsNewController()) {
            throw ApiException.badRequest("nvme_controller must be a controller index or \"new\", not " + drive.nvmeController());
        }
        if (drive.wantsNewController()) {
            if (root) throw ApiException.badRequest("a drive attached to a running microVM cannot be its root device");
            if (drives.containsKey(pathId)) throw ApiException.badRequest("drive " + pathId + " is already attached to the microVM");
            return NEW_CONTROLLER;
        }
        if (controllers == 0) {
            throw ApiException.badRequest("the running microVM has no NVMe controller to attach drive " + pathId
                    + " to (give it one with nvme_controllers in PUT /machine-config or an nvme drive before InstanceStart)");
        }
        if (root) throw ApiException.badRequest("a drive attached to a running microVM cannot be its root device");
        if (drives.containsKey(pathId)) throw ApiException.badRequest("drive " + pathId + " is already attached to the microVM");
        int controller = drive.nvmeController() == null ? 0 : drive.nvmeController().asInt();
        if (controller < 0 || controller >= controllers) {
            throw ApiException.badRequest("nvme_controller must be between 0 and " + (controllers - 1) + ", not " + controller);
        }
        return controller;
    }

    /** Forgets a drive detached from the running machine. */
    void detached(String pathId) { drives.remove(pathId); }

    Drive drive(String id) { return drives.get(id); }

    /** A running drive's new rate limiter, so GET /vm/config shows what is in force. */
    void patchedDrive(String id, RateLimiter patch) {
        Drive d = drives.get(id);
        drives.put(id, new Drive(d.driveId(), d.pathOnHost(), d.isRootDevice(), d.isReadOnly(), d.partuuid(), d.cacheType(),
                d.ioEngine(), RateLimits.patched(d.rateLimiter(), patch), d.socket(), d.iface(), d.nvmeController(), d.hotplugState()));
    }

    /** A running interface's new rate limiters, for GET /vm/config. */
    void patchedNetworkInterface(String id, RateLimiter rx, RateLimiter tx) {
        NetworkInterface n = nets.get(id);
        nets.put(id, new NetworkInterface(n.ifaceId(), n.hostDevName(), n.guestMac(), n.mtu(),
                RateLimits.patched(n.rxRateLimiter(), rx), RateLimits.patched(n.txRateLimiter(), tx)));
    }

    /** Records a drive attached to the running machine, so GET /vm/config lists it. */
    void attached(String pathId, Drive drive) { drives.put(pathId, drive); }

    /** Sets the hot-plug state GET /vm/config shows for drive {@code pathId}. */
    void hotplugState(String pathId, String state) {
        Drive d = drives.get(pathId);
        if (d != null) drives.put(pathId, d.withHotplugState(state));
    }

    /** The checks every drive passes, before boot or after; returns whether it is to be the root device. */
    private static boolean checkDrive(String pathId, Drive drive) {
        sameId(pathId, required(drive.driveId(), "drive_id"), "drive");
        boolean root = required(drive.isRootDevice(), "is_root_device");
        if (drive.hotplugState() != null) throw ApiException.badRequest("hotplug_state is read-only (GET /vm/config reports it)");
        if (drive.socket() != null) {
            checkVhostUserDrive(drive);
            return root;
        }
        String path = required(drive.pathOnHost(), "path_on_host");
        Path file = hostPath(path, "path_on_host");
        if (!Files.isRegularFile(file) && !isBlockDevice(file)) {
            throw ApiException.badRequest("path_on_host " + path + " is not a file or block device");
        }
        boolean readOnly = Boolean.TRUE.equals(drive.isReadOnly());
        if (!Files.isReadable(file) || (!readOnly && !Files.isWritable(file))) {
            throw ApiException.badRequest("cannot open " + path + (readOnly ? " for reading" : " for reading and writing"));
        }
        if (drive.cacheType() != null) oneOf(drive.cacheType(), "cache_type", Set.of("Unsafe", "Writeback"));
        if (drive.ioEngine() != null) {
            oneOf(drive.ioEngine(), "io_engine", Set.of("Sync", "Async"));
            if (drive.ioEngine().equals("Async")) throw ApiException.notSupported("io_engine Async");
        }
        RateLimits.of(drive.rateLimiter(), "rate_limiter"); // checked here, translated in toSpec
        if (drive.iface() != null) oneOf(drive.iface(), "interface", Set.of("virtio", "nvme"));
        return root;
    }

    /**
     * A vhost-user-blk drive (Firecracker's {@code socket}): the back end owns the image, so the fields
     * about a file Flint opens do not apply and are refused rather than ignored.
     */
    private static void checkVhostUserDrive(Drive drive) {
        if (drive.pathOnHost() != null) throw ApiException.badRequest("a drive has either path_on_host or socket, not both");
        Path socket = hostPath(drive.socket(), "socket");
        try {
            if (!Files.exists(socket) || !(Files.readAttributes(socket, "unix:mode").get("mode") instanceof Integer mode)
                    || (mode & 0170000) != 0140000) {
                throw ApiException.badRequest("socket " + drive.socket() + " is not a Unix socket");
            }
        } catch (java.io.IOException | UnsupportedOperationException e) {
            throw ApiException.badRequest("socket " + drive.socket() + " cannot be inspected: " + e.getMessage());
        }
        if ((drive.cacheType() != null && !drive.cacheType().equals("Unsafe")) || (drive.ioEngine() != null && !drive.ioEngine().equals("Sync"))
                || RateLimiter.limits(drive.rateLimiter())) {
            throw ApiException.badRequest("cache_type, io_engine and rate_limiter do not apply to a vhost-user drive (socket): the back end does the I/O");
        }
        if (drive.iface() != null) oneOf(drive.iface(), "interface", Set.of("virtio"));
    }

    void putNetworkInterface(String pathId, NetworkInterface net) {
        sameId(pathId, required(net.ifaceId(), "iface_id"), "network interface");
        String tap = required(net.hostDevName(), "host_dev_name");
        if (tap.isEmpty() || tap.length() >= IFNAMSIZ || tap.contains("/") || tap.isBlank()
                || tap.chars().anyMatch(Character::isWhitespace)) {
            throw ApiException.badRequest("host_dev_name `" + tap + "` is not a valid interface name (1 to "
                    + (IFNAMSIZ - 1) + " characters, no '/' or spaces)");
        }
        if (net.guestMac() != null && !MAC.matcher(net.guestMac()).matches()) {
            throw ApiException.badRequest("guest_mac `" + net.guestMac() + "` is not a MAC address like 06:00:ac:10:00:02");
        }
        if (net.mtu() != null && (net.mtu() < 68 || net.mtu() > 65535)) {
            throw ApiException.badRequest("mtu must be between 68 and 65535, not " + net.mtu());
        }
        RateLimits.of(net.rxRateLimiter(), "rx_rate_limiter");
        RateLimits.of(net.txRateLimiter(), "tx_rate_limiter");
        for (NetworkInterface other : nets.values()) {
            if (other.ifaceId().equals(pathId)) continue;
            if (other.hostDevName().equals(tap)) {
                throw ApiException.badRequest("host_dev_name " + tap + " is already used by " + other.ifaceId());
            }
            if (net.guestMac() != null && net.guestMac().equalsIgnoreCase(other.guestMac())) {
                throw ApiException.badRequest("guest_mac " + net.guestMac() + " is already used by " + other.ifaceId());
            }
        }
        nets.put(pathId, net);
    }

    void putEntropy(EntropyDevice device) {
        if (RateLimiter.limits(device.rateLimiter())) throw ApiException.notSupported("entropy rate_limiter");
        entropy = device;
    }

    /** One vsock device per microVM, as in Firecracker: a second PUT replaces the first. */
    void putVsock(dev.flint.api.model.Vsock device) {
        long cid = required(device.guestCid(), "guest_cid");
        String uds = required(device.udsPath(), "uds_path");
        if (cid < 3 || cid > 0xFFFF_FFFEL) throw ApiException.badRequest("guest_cid must be between 3 and 4294967294, not " + cid);
        if (uds.isEmpty() || uds.length() > 96) throw ApiException.badRequest("uds_path must be 1 to 96 bytes long");
        Path parent = hostPath(uds, "uds_path").toAbsolutePath().getParent();
        if (parent == null || !Files.isDirectory(parent)) throw ApiException.badRequest("uds_path " + uds + ": no such directory");
        vsock = device;
    }

    /** One balloon per microVM, as in Firecracker: a second PUT replaces the first. */
    /** A restored machine's balloon, as the snapshot built it (already checked by the VMM that made it). */
    void adoptBalloon(dev.flint.api.model.Balloon device) { balloon = device; }

    void putBalloon(dev.flint.api.model.Balloon device) {
        long amount = required(device.amountMib(), "amount_mib");
        required(device.deflateOnOom(), "deflate_on_oom");
        int interval = device.statsPollingIntervalS() == null ? 0 : device.statsPollingIntervalS();
        checkStatsInterval(interval);
        if (Boolean.TRUE.equals(device.freePageHinting())) throw ApiException.notSupported("balloon free_page_hinting");
        if (Boolean.TRUE.equals(device.freePageReporting())) throw ApiException.notSupported("balloon free_page_reporting");
        checkBalloonAmount(amount, machine.memSizeMib());
        balloon = new dev.flint.api.model.Balloon(amount, device.deflateOnOom(), interval);
    }

    /** A new target for the configured balloon (before boot, or recorded after the running one took it). */
    void patchBalloonAmount(long amount) {
        checkBalloonAmount(amount, machine.memSizeMib());
        balloon = balloon.withAmount(amount);
    }

    void patchBalloonInterval(int seconds) {
        checkStatsInterval(seconds);
        balloon = balloon.withInterval(seconds);
    }

    static void checkBalloonAmount(long amount, long memoryMib) {
        if (amount < 0) throw ApiException.badRequest("amount_mib must not be negative, not " + amount);
        if (amount > memoryMib) {
            throw ApiException.badRequest("amount_mib " + amount + " is more than the microVM's " + memoryMib
                    + " MiB of memory (too many pages requested)");
        }
    }

    static void checkStatsInterval(int seconds) {
        if (seconds < 0 || seconds > 0xFFFF) {
            throw ApiException.badRequest("stats_polling_interval_s must be between 0 and 65535, not " + seconds);
        }
    }

    void putSerial(SerialDevice device) {
        if (device.rateLimiter() != null) throw ApiException.notSupported("serial rate_limiter");
        if (device.serialOutPath() != null) {
            Path parent = hostPath(device.serialOutPath(), "serial_out_path").toAbsolutePath().getParent();
            if (parent == null || !Files.isDirectory(parent)) {
                throw ApiException.badRequest("serial_out_path " + device.serialOutPath() + ": no such directory");
            }
        }
        serial = device;
    }

    /** Where PUT /serial sends the guest console, or null for the VMM's standard output. */
    Path serialOut() { return serial == null || serial.serialOutPath() == null ? null : Path.of(serial.serialOutPath()); }

    /** Checks what only InstanceStart can check and translates the configuration for the VMM. */
    MachineSpec toSpec(VmmBackend.Capabilities can, boolean bootTimer) {
        if (bootSource == null) throw ApiException.badRequest("Cannot start microvm without kernel configuration (PUT /boot-source first)");
        List<String> missing = new ArrayList<>();
        if (!drives.isEmpty() && !can.block()) missing.add("block devices (drives " + String.join(", ", drives.keySet()) + ")");
        if (!nets.isEmpty() && !can.net()) missing.add("network interfaces (" + String.join(", ", nets.keySet()) + ")");
        if (entropy != null && !can.entropy()) missing.add("the entropy device");
        if (!missing.isEmpty()) {
            throw ApiException.badRequest("cannot start: this Flint VMM cannot attach " + String.join(" or ", missing)
                    + " yet; remove them or use a Flint build with virtio devices");
        }
        List<MachineSpec.DriveSpec> driveSpecs = new ArrayList<>();
        String rootArg = null;
        for (Drive d : drives.values()) {
            boolean root = d.isRootDevice();
            boolean nvme = "nvme".equals(d.iface());
            boolean vhostUser = d.socket() != null;
            var spec = new MachineSpec.DriveSpec(d.driveId(), Path.of(vhostUser ? d.socket() : d.pathOnHost()), Boolean.TRUE.equals(d.isReadOnly()),
                    root, d.partuuid(), d.cacheType() == null ? "Unsafe" : d.cacheType(), nvme,
                    RateLimits.of(d.rateLimiter(), "rate_limiter"), vhostUser, d.wantsNewController());
            if (root) {
                driveSpecs.addFirst(spec);
                // Like Firecracker: the root drive is the first virtio-blk device, or named by PARTUUID.
                // An NVMe root drive is the first NVMe controller (lowest PCI slot), so Linux's nvme0n1.
                rootArg = (d.partuuid() != null ? "root=PARTUUID=" + d.partuuid() : nvme ? "root=/dev/nvme0n1" : "root=/dev/vda")
                        + (spec.readOnly() ? " ro" : " rw");
            } else {
                driveSpecs.add(spec);
            }
        }
        String cmdline = bootSource.bootArgs() != null ? bootSource.bootArgs() : DEFAULT_BOOT_ARGS;
        if (rootArg != null) cmdline = cmdline + " " + rootArg;
        List<MachineSpec.NetSpec> netSpecs = nets.values().stream()
                .map(n -> new MachineSpec.NetSpec(n.ifaceId(), n.hostDevName(), n.guestMac(), n.mtu(), null,
                        RateLimits.of(n.rxRateLimiter(), "rx_rate_limiter"), RateLimits.of(n.txRateLimiter(), "tx_rate_limiter")))
                .toList();
        return new MachineSpec(Path.of(bootSource.kernelImagePath()),
                bootSource.initrdPath() == null ? null : Path.of(bootSource.initrdPath()), cmdline,
                machine.vcpuCount(), machine.memSizeMib(), driveSpecs, netSpecs, entropy != null,
                serial == null || serial.serialOutPath() == null ? null : Path.of(serial.serialOutPath()), bootTimer,
                vsock == null ? null : new MachineSpec.VsockSpec(vsock.guestCid(), Path.of(vsock.udsPath())),
                machine.nvmeControllers() == null ? 0 : machine.nvmeControllers(),
                balloon == null ? null : new MachineSpec.BalloonSpec(balloon.amountMib(), balloon.deflateOnOom(),
                        balloon.statsPollingIntervalS()), Boolean.TRUE.equals(machine.trackDirtyPages()));
    }

    private static void checkDeviceId(String id, String what) {
        if (!DEVICE_ID.matcher(id).matches()) {
            throw ApiException.badRequest(what + " id `" + id + "` must be 1 to 64 letters, digits, '-' or '_'");
        }
    }

    static void sameId(String pathId, String bodyId, String what) {
        checkDeviceId(pathId, what);
        if (!pathId.equals(bodyId)) {
            throw ApiException.badRequest("The id from the path (" + pathId + ") does not match the id from the body (" + bodyId + ")");
        }
    }

    static <T> T required(T value, String field) {
        if (value == null) throw ApiException.badRequest("missing required field `" + field + "`");
        return value;
    }

    static void oneOf(String value, String field, Set<String> allowed) {
        if (!allowed.contains(value)) {
            throw ApiException.badRequest(field + " must be one of " + String.join(", ", allowed.stream().sorted().toList())
                    + ", not `" + value + "`");
        }
    }

    static Path hostPath(String path, String field) {
        if (path.isEmpty() || path.indexOf('\0') >= 0) throw ApiException.badRequest(field + " is empty or not a path");
        try {
            return Path.of(path);
        } catch (InvalidPathException e) {
            throw ApiException.badRequest(field + " is not a path: " + path);
        }
    }

    private static void readableFile(String path, String field) {
        Path file = hostPath(path, field);
        if (!Files.isRegularFile(file)) throw ApiException.badRequest(field + " " + path + ": no such file");
        if (!Files.isReadable(file)) throw ApiException.badRequest(field + " " + path + ": not readable");
    }

    private static boolean isBlockDevice(Path file) {
        try {
            return Files.getAttribute(file, "unix:mode") instanceof Integer mode && (mode & 0170000) == 0060000;
        } catch (java.io.IOException | UnsupportedOperationException e) {
            return false;
        }
    }
}
