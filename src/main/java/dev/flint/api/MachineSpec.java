package dev.flint.api;

import dev.flint.devices.mmds.Mmds;
import dev.flint.devices.ratelimit.RateLimit;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * What the API asks the VMM to boot: the validated pre-boot configuration, translated out of
 * Firecracker's JSON vocabulary. {@link VmmBackend} maps it onto {@code dev.flint.vmm.VmConfig}.
 *
 * @param initrd      null when the guest boots without one
 * @param serialOut   where the guest console goes; null means the VMM's standard output
 * @param bootTimer   whether to install the boot-timer device ({@code --boot-timer})
 * @param vsock       the vsock device, or null for none
 * @param emptyNvmeControllers NVMe controllers without a namespace, for volumes attached while it runs
 * @param balloon     the balloon device, or null for none
 */
public record MachineSpec(Path kernel, Path initrd, String cmdline, int vcpus, long memoryMib,
                          List<DriveSpec> drives, List<NetSpec> networkInterfaces, boolean entropy,
                          Path serialOut, boolean bootTimer, VsockSpec vsock, int emptyNvmeControllers,
                          BalloonSpec balloon, boolean trackDirtyPages) {

    /** Without dirty page tracking. */
    public MachineSpec(Path kernel, Path initrd, String cmdline, int vcpus, long memoryMib, List<DriveSpec> drives,
                       List<NetSpec> networkInterfaces, boolean entropy, Path serialOut, boolean bootTimer, VsockSpec vsock,
                       int emptyNvmeControllers, BalloonSpec balloon) {
        this(kernel, initrd, cmdline, vcpus, memoryMib, drives, networkInterfaces, entropy, serialOut, bootTimer, vsock,
                emptyNvmeControllers, balloon, false);
    }

    /** Without a balloon. */
    public MachineSpec(Path kernel, Path initrd, String cmdline, int vcpus, long memoryMib, List<DriveSpec> drives,
                       List<NetSpec> networkInterfaces, boolean entropy, Path serialOut, boolean bootTimer, VsockSpec vsock,
                       int emptyNvmeControllers) {
        this(kernel, initrd, cmdline, vcpus, memoryMib, drives, networkInterfaces, entropy, serialOut, bootTimer, vsock,
                emptyNvmeControllers, null);
    }

    /** The balloon: target, deflate on OOM, statistics polling interval (0: no statistics). */
    public record BalloonSpec(long amountMib, boolean deflateOnOom, int statsPollingIntervalS) {}

    /** Without empty NVMe controllers. */
    public MachineSpec(Path kernel, Path initrd, String cmdline, int vcpus, long memoryMib, List<DriveSpec> drives,
                       List<NetSpec> networkInterfaces, boolean entropy, Path serialOut, boolean bootTimer, VsockSpec vsock) {
        this(kernel, initrd, cmdline, vcpus, memoryMib, drives, networkInterfaces, entropy, serialOut, bootTimer, vsock, 0);
    }

    /** Without a vsock device or empty NVMe controllers. */
    public MachineSpec(Path kernel, Path initrd, String cmdline, int vcpus, long memoryMib, List<DriveSpec> drives,
                       List<NetSpec> networkInterfaces, boolean entropy, Path serialOut, boolean bootTimer) {
        this(kernel, initrd, cmdline, vcpus, memoryMib, drives, networkInterfaces, entropy, serialOut, bootTimer, null, 0);
    }

    /** The vsock device: the guest's CID and the host-side Unix socket. */
    public record VsockSpec(long guestCid, Path udsPath) {}

    public MachineSpec {
        Objects.requireNonNull(kernel, "kernel");
        Objects.requireNonNull(cmdline, "cmdline");
        drives = List.copyOf(drives);
        networkInterfaces = List.copyOf(networkInterfaces);
    }

    /**
     * How many NVMe controllers the machine has whose namespaces the API addresses by index: one per NVMe drive
     * (not those in hot-pluggable slots), then the empty ones.
     */
    public int nvmeControllers() {
        return (int) drives.stream().filter(d -> d.nvme() && !d.hotpluggable()).count() + emptyNvmeControllers;
    }

    /**
     * A block device; the root device (if any) comes first. {@code nvme}: an NVMe controller, not virtio-blk.
     * {@code rateLimit}: its {@code rate_limiter} (never null). {@code vhostUser}: {@code path} is a
     * vhost-user-blk back end's socket (Firecracker's {@code socket}). {@code hotpluggable}: an NVMe drive
     * plugged at boot into a hot-pluggable PCI slot ({@code "nvme_controller": "new"} before InstanceStart), which
     * leaves through the guest's eject as one hot-plugged while the guest runs does.
     */
    public record DriveSpec(String id, Path path, boolean readOnly, boolean root, String partuuid,
                            String cacheType, boolean nvme, RateLimit rateLimit, boolean vhostUser, boolean hotpluggable) {
        public DriveSpec {
            rateLimit = RateLimit.orNone(rateLimit);
            if (hotpluggable && (!nvme || root || vhostUser)) {
                throw new IllegalArgumentException("only a data NVMe drive goes in a hot-pluggable slot: " + id);
            }
        }

        /** Not in a hot-pluggable slot. */
        public DriveSpec(String id, Path path, boolean readOnly, boolean root, String partuuid, String cacheType, boolean nvme,
                         RateLimit rateLimit, boolean vhostUser) {
            this(id, path, readOnly, root, partuuid, cacheType, nvme, rateLimit, vhostUser, false);
        }

        /** Backed by an image file. */
        public DriveSpec(String id, Path path, boolean readOnly, boolean root, String partuuid, String cacheType, boolean nvme,
                         RateLimit rateLimit) {
            this(id, path, readOnly, root, partuuid, cacheType, nvme, rateLimit, false);
        }

        /** Without a rate limit. */
        public DriveSpec(String id, Path path, boolean readOnly, boolean root, String partuuid, String cacheType, boolean nvme,
                         boolean vhostUser) {
            this(id, path, readOnly, root, partuuid, cacheType, nvme, RateLimit.NONE, vhostUser);
        }

        /** An image file without a rate limit. */
        public DriveSpec(String id, Path path, boolean readOnly, boolean root, String partuuid, String cacheType, boolean nvme) {
            this(id, path, readOnly, root, partuuid, cacheType, nvme, RateLimit.NONE, false);
        }
    }

    /**
     * A network device on a host TAP interface; {@code guestMac} and {@code mtu} may be null, and so is
     * {@code mmds} unless this interface answers for the metadata service.
     */
    public record NetSpec(String id, String hostDevName, String guestMac, Integer mtu, Mmds mmds,
                          RateLimit rxRateLimit, RateLimit txRateLimit) {
        public NetSpec {
            rxRateLimit = RateLimit.orNone(rxRateLimit);
            txRateLimit = RateLimit.orNone(txRateLimit);
        }

        public NetSpec(String id, String hostDevName, String guestMac, Integer mtu, Mmds mmds) {
            this(id, hostDevName, guestMac, mtu, mmds, RateLimit.NONE, RateLimit.NONE);
        }

        public NetSpec(String id, String hostDevName, String guestMac, Integer mtu) { this(id, hostDevName, guestMac, mtu, null); }

        NetSpec withMmds(Mmds service) { return new NetSpec(id, hostDevName, guestMac, mtu, service, rxRateLimit, txRateLimit); }
    }

    /** The same machine with {@code mmds} answering on the interfaces named. */
    MachineSpec withMmds(Mmds mmds, java.util.Collection<String> interfaces) {
        List<NetSpec> nets = networkInterfaces.stream().map(n -> interfaces.contains(n.id()) ? n.withMmds(mmds) : n).toList();
        return new MachineSpec(kernel, initrd, cmdline, vcpus, memoryMib, drives, nets, entropy, serialOut, bootTimer, vsock,
                emptyNvmeControllers, balloon, trackDirtyPages);
    }
}
