package dev.flint.vmm;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import dev.flint.devices.pci.PciHostBridge;
import dev.flint.devices.virtio.balloon.BalloonConfig;
import dev.flint.devices.virtio.block.DriveConfig;
import dev.flint.devices.virtio.net.NetConfig;
import dev.flint.devices.virtio.vsock.VsockConfig;
import java.nio.file.Path;
import java.util.List;

/**
 * Everything needed to build a machine, validated once here so the inside never sees an invalid machine.
 * The kernel's format and whether the initrd fits are the boot loader's checks: they need the image's
 * headers and the memory layout.
 *
 * @param kernel    the guest kernel (bzImage or ELF vmlinux)
 * @param initrd    the initial RAM disk, or null for none
 * @param cmdline   the kernel command line
 * @param cpus      number of vCPUs
 * @param memoryMib guest RAM in MiB
 * @param engine    {@code auto}, {@code kvm} or {@code emu} (see {@link Engines})
 * @param drives    disks, in PCI slot order: virtio-blk (the guest sees the first as /dev/vda) or, with
 *                  {@code if=nvme}, each an NVMe controller of its own (nvme0, nvme1...)
 * @param rng       whether the guest gets a virtio-rng device fed from the host's entropy
 * @param bootTimer whether to install the boot-timer device (the guest's write of 123 to MMIO 0xC0000000
 *                  logs the time since start, as Firecracker's {@code --boot-timer} does)
 * @param nets      virtio-net interfaces on host TAP devices, in PCI slot order (eth0 first)
 * @param vsock     a virtio-vsock device with its host-side Unix socket, or null for none
 * @param emptyNvmeControllers NVMe controllers with no namespace yet, plugged after the drives' (so numbered
 *                  after the {@code if=nvme} drives' controllers); volumes are hot-attached to them later
 *                  with {@link Vmm#attachNvmeNamespace}
 * @param debugExitPort the I/O port of an isa-debug-exit device ({@code --debug-exit}), or -1 for none
 * @param balloon   a virtio-balloon device, or null for none
 * @param trackDirtyPages whether guest RAM's written pages are logged from boot (Firecracker's
 *                  {@code track_dirty_pages}), which Diff snapshots need
 * @param hotplugNvme NVMe drives each plugged at boot as a controller of its own into a hot-pluggable PCI slot
 *                  (the lowest ones the other devices left free, in order), as if hot-plugged before the guest
 *                  ran: the guest finds them at boot, and they leave the way a controller hot-plugged while the
 *                  guest runs does (the guest is asked to eject them, {@link Vmm#requestEject})
 */
public record VmConfig(Path kernel, Path initrd, String cmdline, int cpus, long memoryMib, String engine,
                       List<DriveConfig> drives, boolean rng, boolean bootTimer, List<NetConfig> nets, VsockConfig vsock,
                       int emptyNvmeControllers, int debugExitPort, BalloonConfig balloon, boolean trackDirtyPages,
                       List<DriveConfig> hotplugNvme) {
    /** The default command line: serial console, reboot through the keyboard controller, no reboot loop on panic. */
    public static final String DEFAULT_CMDLINE = "console=ttyS0 reboot=k panic=-1";
    public static final int DEFAULT_CPUS = 1;
    public static final long DEFAULT_MEMORY_MIB = 256;
    /** Below this the stock Debian kernel plus an initramfs does not come up. */
    public static final long MIN_MEMORY_MIB = 64;
    /** An upper bound that catches typos (a value in KiB, say) before the host is asked for it. */
    public static final long MAX_MEMORY_MIB = 1L << 20;
    /** xAPIC IDs are 8 bits and 255 is the broadcast ID. */
    public static final int MAX_CPUS = 254;
    /** Linux x86 COMMAND_LINE_SIZE, including the terminating NUL. */
    public static final int MAX_CMDLINE_BYTES = 2048;

    public VmConfig {
        if (cmdline == null) cmdline = "";
        if (engine == null) engine = Engines.AUTO;
        checkMachine(cmdline, cpus, memoryMib, engine);
        if (kernel == null) throw new VmConfigException("no kernel given");
        requireReadableFile("kernel", kernel);
        if (initrd != null) requireReadableFile("initrd", initrd);
        drives = drives == null ? List.of() : List.copyOf(drives);
        nets = nets == null ? List.of() : List.copyOf(nets);
        hotplugNvme = hotplugNvme == null ? List.of() : List.copyOf(hotplugNvme);
        for (DriveConfig d : hotplugNvme) {
            if (d.iface() != DriveConfig.Interface.NVME) throw new VmConfigException("only NVMe drives go in hot-pluggable slots: " + d.path());
        }
        if (emptyNvmeControllers < 0) throw new VmConfigException("--nvme-controllers " + emptyNvmeControllers + ": cannot be negative");
        // Slot 0 is the host bridge; each device takes one of the other slots.
        if (drives.size() + nets.size() + (rng ? 1 : 0) + (vsock != null ? 1 : 0) + (balloon != null ? 1 : 0)
                + emptyNvmeControllers + hotplugNvme.size() > PciHostBridge.SLOTS - 1) {
            throw new VmConfigException(drives.size() + hotplugNvme.size() + " drives, " + nets.size() + " network interfaces and "
                    + emptyNvmeControllers + " empty NVMe controllers do not fit on PCI bus 0 (at most "
                    + (PciHostBridge.SLOTS - 1) + " devices)");
        }
        if (debugExitPort < -1 || debugExitPort > 0xFFFF) {
            throw new VmConfigException("debug-exit port must be 0..0xffff, got " + debugExitPort);
        }
        if (balloon != null && balloon.amountMib() > memoryMib) {
            throw new VmConfigException("the balloon's target of " + balloon.amountMib() + " MiB is more than the guest's "
                    + memoryMib + " MiB of memory");
        }
        if (trackDirtyPages && drives.stream().anyMatch(d -> d.iface() == DriveConfig.Interface.VHOST_USER)) {
            throw new VmConfigException("dirty page tracking cannot see what a vhost-user back end writes to guest memory: "
                    + "track_dirty_pages and a vhost-user drive do not go together");
        }
        var taps = new java.util.HashSet<String>();
        for (NetConfig net : nets) {
            if (!taps.add(net.tap())) throw new VmConfigException("TAP device " + net.tap() + " is given twice");
        }
    }

    /** A builder for a machine with {@code kernel} and every other part at its default (none, or off). */
    public static Builder builder(Path kernel) {
        return new Builder(kernel);
    }

    /** A builder holding this machine's parts, to change some of them. */
    public Builder toBuilder() {
        return new Builder(kernel).initrd(initrd).cmdline(cmdline).cpus(cpus).memoryMib(memoryMib).engine(engine)
                .drives(drives).rng(rng).bootTimer(bootTimer).nets(nets).vsock(vsock)
                .emptyNvmeControllers(emptyNvmeControllers).debugExitPort(debugExitPort).balloon(balloon)
                .trackDirtyPages(trackDirtyPages).hotplugNvme(hotplugNvme);
    }

    /** The same machine with {@code drives} as NVMe controllers in hot-pluggable slots from boot (see {@link #hotplugNvme}). */
    public VmConfig withHotplugNvme(List<DriveConfig> drives) {
        return toBuilder().hotplugNvme(drives).build();
    }

    /** The same machine with dirty page tracking on or off. */
    public VmConfig withDirtyPageTracking(boolean track) {
        return toBuilder().trackDirtyPages(track).build();
    }

    /** The same machine with {@code balloon} (null: none). */
    public VmConfig withBalloon(BalloonConfig balloon) {
        return toBuilder().balloon(balloon).build();
    }

    /**
     * Collects a machine's parts by name; {@link #build} validates them all at once (the record's constructor).
     * What is not set is the default: an empty command line, {@link #DEFAULT_CPUS}, {@link #DEFAULT_MEMORY_MIB},
     * the {@code auto} engine, no initrd and no devices.
     */
    public static final class Builder {
        private final Path kernel;
        private Path initrd;
        private String cmdline = "";
        private int cpus = DEFAULT_CPUS;
        private long memoryMib = DEFAULT_MEMORY_MIB;
        private String engine = Engines.AUTO;
        private List<DriveConfig> drives = List.of();
        private boolean rng;
        private boolean bootTimer;
        private List<NetConfig> nets = List.of();
        private VsockConfig vsock;
        private int emptyNvmeControllers;
        private int debugExitPort = -1;
        private BalloonConfig balloon;
        private boolean trackDirtyPages;
        private List<DriveConfig> hotplugNvme = List.of();

        private Builder(Path kernel) { this.kernel = kernel; }

        public Builder initrd(Path initrd) { this.initrd = initrd; return this; }
        public Builder cmdline(String cmdline) { this.cmdline = cmdline; return this; }
        public Builder cpus(int cpus) { this.cpus = cpus; return this; }
        public Builder memoryMib(long memoryMib) { this.memoryMib = memoryMib; return this; }
        public Builder engine(String engine) { this.engine = engine; return this; }
        public Builder drives(List<DriveConfig> drives) { this.drives = drives; return this; }
        public Builder rng(boolean rng) { this.rng = rng; return this; }
        public Builder bootTimer(boolean bootTimer) { this.bootTimer = bootTimer; return this; }
        public Builder nets(List<NetConfig> nets) { this.nets = nets; return this; }
        public Builder vsock(VsockConfig vsock) { this.vsock = vsock; return this; }
        public Builder emptyNvmeControllers(int count) { this.emptyNvmeControllers = count; return this; }
        /** The isa-debug-exit device's port, or -1 for none. */
        public Builder debugExitPort(int port) { this.debugExitPort = port; return this; }
        public Builder balloon(BalloonConfig balloon) { this.balloon = balloon; return this; }
        public Builder trackDirtyPages(boolean track) { this.trackDirtyPages = track; return this; }
        public Builder hotplugNvme(List<DriveConfig> drives) { this.hotplugNvme = drives; return this; }

        /** The machine, or a {@link VmConfigException} saying what is wrong with it. */
        public VmConfig build() {
            return new VmConfig(kernel, initrd, cmdline, cpus, memoryMib, engine, drives, rng, bootTimer, nets, vsock,
                    emptyNvmeControllers, debugExitPort, balloon, trackDirtyPages, hotplugNvme);
        }
    }

    /**
     * The checks that need no files, so a front end can reject bad values before it spends time on
     * anything (fetching the default guest, say).
     */
    public static void checkMachine(String cmdline, int cpus, long memoryMib, String engine) {
        if (cmdline.indexOf('\0') >= 0) throw new VmConfigException("the kernel command line contains a NUL byte");
        int cmdlineBytes = cmdline.getBytes(StandardCharsets.UTF_8).length;
        if (cmdlineBytes >= MAX_CMDLINE_BYTES) {
            throw new VmConfigException("the kernel command line is " + cmdlineBytes + " bytes; at most "
                    + (MAX_CMDLINE_BYTES - 1) + " fit");
        }
        if (cpus < 1) throw new VmConfigException("--cpus " + cpus + ": a VM needs at least 1 vCPU");
        if (cpus > MAX_CPUS) throw new VmConfigException("--cpus " + cpus + ": at most " + MAX_CPUS + " vCPUs are supported");
        if (memoryMib < MIN_MEMORY_MIB) {
            throw new VmConfigException("guest memory " + memoryMib + " MiB is too small: at least " + MIN_MEMORY_MIB + " MiB needed");
        }
        if (memoryMib > MAX_MEMORY_MIB) {
            throw new VmConfigException("guest memory " + memoryMib + " MiB is too large: at most " + MAX_MEMORY_MIB + " MiB");
        }
        if (!Engines.CHOICES.contains(engine)) {
            throw new VmConfigException("unknown engine '" + engine + "' (choose one of " + String.join(", ", Engines.CHOICES) + ")");
        }
    }

    public long memoryBytes() { return memoryMib << 20; }

    private static void requireReadableFile(String what, Path file) {
        if (!Files.exists(file)) throw new VmConfigException(what + " not found: " + file);
        if (!Files.isRegularFile(file)) throw new VmConfigException(what + " is not a regular file: " + file);
        if (!Files.isReadable(file)) throw new VmConfigException(what + " is not readable (permission denied): " + file);
    }
}
