package dev.flint.api;

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
 */
public record MachineSpec(Path kernel, Path initrd, String cmdline, int vcpus, long memoryMib,
                          List<DriveSpec> drives, List<NetSpec> networkInterfaces, boolean entropy,
                          Path serialOut, boolean bootTimer) {

    public MachineSpec {
        Objects.requireNonNull(kernel, "kernel");
        Objects.requireNonNull(cmdline, "cmdline");
        drives = List.copyOf(drives);
        networkInterfaces = List.copyOf(networkInterfaces);
    }

    /** A block device; the root device (if any) comes first. {@code nvme}: an NVMe controller, not virtio-blk. */
    public record DriveSpec(String id, Path path, boolean readOnly, boolean root, String partuuid,
                            String cacheType, boolean nvme) {}

    /** A network device on a host TAP interface; {@code guestMac} and {@code mtu} may be null. */
    public record NetSpec(String id, String hostDevName, String guestMac, Integer mtu) {}
}
