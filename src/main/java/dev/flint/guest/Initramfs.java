package dev.flint.guest;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The guest root file systems Flint ships: busybox plus an /init script. Both return a builder so callers
 * (tests, the nested-KVM harness) can add kernel modules or files before writing it.
 */
public final class Initramfs {
    private Initramfs() {}

    /** What a marker may contain: it is pasted into a shell script. */
    private static final Pattern SAFE_MARKER = Pattern.compile("[A-Za-z0-9_.:=+-]{1,200}");

    /**
     * Common prologue of every /init: busybox installs its applets as symlinks (the applet list then
     * always matches the binary), the kernel file systems get mounted.
     */
    private static final String PROLOGUE = """
            #!/bin/busybox sh
            /bin/busybox --install -s /bin
            export PATH=/bin
            mount -t proc proc /proc
            mount -t sysfs sysfs /sys
            mount -t devtmpfs devtmpfs /dev 2>/dev/null
            """;

    /**
     * Tells the VMM that boot finished: the Firecracker-compatible boot timer (MMIO 0xC000_0000, magic
     * 123) logs the time since start when it is installed; without it the write goes nowhere.
     */
    private static final String BOOT_DONE = "devmem 0xc0000000 8 123 2>/dev/null\n";

    /**
     * Counts CPUs the kernel brought online. cpu0 usually has no "online" file (it cannot be unplugged),
     * hence the default of 1.
     */
    private static final String COUNT_CPUS = """
            n=0
            for c in /sys/devices/system/cpu/cpu[0-9]*; do
              [ "$(cat $c/online 2>/dev/null || echo 1)" = 1 ] && n=$((n+1))
            done
            """;

    /**
     * The default guest: an interactive shell on the serial console. {@code cttyhack} makes the console a
     * controlling terminal so job control and Ctrl-C work; when the shell exits the VM powers off.
     */
    public static InitramfsBuilder busyboxShell(Path busybox) {
        return busyboxShell(busybox, null);
    }

    /**
     * Debian's kernel builds virtio as modules: these, in dependency order, give the guest virtio-pci
     * disks (/dev/vda...), the virtio entropy source and virtio-net (eth0..., which needs the failover
     * modules). Paths are relative to lib/modules/VERSION.
     */
    public static final List<String> VIRTIO_MODULES = List.of(
            "kernel/drivers/virtio/virtio_ring.ko", "kernel/drivers/virtio/virtio.ko",
            "kernel/drivers/virtio/virtio_pci_legacy_dev.ko", "kernel/drivers/virtio/virtio_pci_modern_dev.ko",
            "kernel/drivers/virtio/virtio_pci.ko", "kernel/drivers/block/virtio_blk.ko",
            "kernel/drivers/char/hw_random/virtio-rng.ko",
            "kernel/net/core/failover.ko", "kernel/drivers/net/net_failover.ko", "kernel/drivers/net/virtio_net.ko");

    /**
     * The vsock core and its virtio transport, in dependency order: loaded by init only when the machine
     * has a virtio-vsock device (PCI 1af4:1053), so a guest without one does not get an AF_VSOCK it cannot use.
     */
    public static final List<String> VSOCK_MODULES = List.of(
            "kernel/net/vmw_vsock/vsock.ko", "kernel/net/vmw_vsock/vmw_vsock_virtio_transport_common.ko",
            "kernel/net/vmw_vsock/vmw_vsock_virtio_transport.ko");

    /**
     * The balloon driver (it needs only virtio and virtio_ring, loaded before it): loaded by init when the
     * machine has a virtio-balloon device (PCI 1af4:1045).
     */
    public static final List<String> BALLOON_MODULES = List.of("kernel/drivers/virtio/virtio_balloon.ko");

    /**
     * ext4 and what it needs (crc32c through the crypto API for metadata checksums), in dependency order:
     * a root file system on a virtio disk ({@code flint image build}).
     */
    public static final List<String> ROOT_FS_MODULES = List.of(
            "kernel/lib/crc16.ko", "kernel/fs/mbcache.ko", "kernel/fs/jbd2/jbd2.ko",
            "kernel/crypto/crc32c_generic.ko", "kernel/fs/ext4/ext4.ko");

    /**
     * Debian's NVMe driver and what it needs, in dependency order (the CRC modules behind t10-pi register
     * the crypto algorithms it asks for). Loaded only when the machine has an NVMe controller (PCI class
     * 01:08:02) or the command line says {@link #HOTPLUG_NVME}, so other machines boot no slower.
     */
    public static final List<String> NVME_MODULES = List.of(
            "kernel/crypto/crct10dif_common.ko", "kernel/crypto/crct10dif_generic.ko", "kernel/lib/crc-t10dif.ko",
            "kernel/lib/crc64.ko", "kernel/crypto/crc64_rocksoft_generic.ko", "kernel/lib/crc64-rocksoft.ko",
            "kernel/block/t10-pi.ko", "kernel/drivers/nvme/host/nvme-core.ko", "kernel/drivers/nvme/host/nvme.ko");

    /**
     * The kernel command line word that has the default init load the {@link #NVME_MODULES} even when the machine
     * has no NVMe controller at boot: for machines whose volumes are hot-plugged while they run ({@code flint cloud}).
     */
    public static final String HOTPLUG_NVME = "flint.hotplug=nvme";

    /**
     * With {@code root=DEVICE} on the kernel command line (as Firecracker users write {@code root=/dev/vda}),
     * init waits for the disk, mounts it as ext4 read-write and switches to it, running {@code init=}
     * (default /sbin/init) there. Without it, or if the mount fails, the initramfs shell starts.
     */
    private static final String SWITCH_ROOT = """
            root=; rootinit=/sbin/init
            for arg in $(cat /proc/cmdline); do
              case "$arg" in root=*) root=${arg#root=} ;; init=*) rootinit=${arg#init=} ;; esac
            done
            if [ -n "$root" ]; then
              i=0
              while [ ! -b "$root" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
              mkdir -p /newroot
              if mount -t ext4 -o rw "$root" /newroot; then
                [ -d /newroot/dev ] && mount --move /dev /newroot/dev
                umount /sys /proc
                exec switch_root /newroot "$rootinit"
              fi
              echo "flint: cannot mount the root file system $root; starting the initramfs shell"
            fi
            """;

    /**
     * The shell guest with the {@link #VIRTIO_MODULES} (and, if the kernel has them and the machine an NVMe
     * controller, the {@link #NVME_MODULES}) of the kernel whose modules are in
     * {@code modulesDir} (null: none), loaded by init before the shell starts, so {@code flint run
     * --drive} disks appear as /dev/vda and up; with modules, {@code root=} boots a disk (see
     * {@link #SWITCH_ROOT}).
     */
    /** Adds {@code wanted} (if the kernel has them all) to load when the shell {@code test} succeeds. */
    private static void loadWhenPresent(StringBuilder load, List<Path> modules, Path modulesDir, List<String> wanted,
            String test) {
        if (!wanted.stream().allMatch(m -> Files.isRegularFile(modulesDir.resolve(m)))) return;
        load.append("if ").append(test).append(" 2>/dev/null; then\n");
        for (String module : wanted) {
            Path file = modulesDir.resolve(module);
            modules.add(file);
            load.append("  insmod /lib/modules/").append(file.getFileName()).append(" 2>/dev/null\n");
        }
        load.append("fi\n");
    }

    public static InitramfsBuilder busyboxShell(Path busybox, Path modulesDir) {
        StringBuilder load = new StringBuilder();
        List<Path> modules = new ArrayList<>();
        if (modulesDir != null) {
            for (String module : java.util.stream.Stream.concat(VIRTIO_MODULES.stream(), ROOT_FS_MODULES.stream()).toList()) {
                Path file = modulesDir.resolve(module);
                modules.add(file);
                load.append("insmod /lib/modules/").append(file.getFileName()).append(" 2>/dev/null\n");
            }
            // Modules only some machines need, loaded when the PCI device that needs them is there.
            // flint.hotplug=nvme on the command line: NVMe controllers will be hot-plugged while the guest runs (this
            // init has no udev to load the driver on the hot-plug event), so the driver is loaded now even without one.
            loadWhenPresent(load, modules, modulesDir, NVME_MODULES,
                    "{ grep -qx 0x010802 /sys/bus/pci/devices/*/class || grep -qw " + HOTPLUG_NVME + " /proc/cmdline; }");
            loadWhenPresent(load, modules, modulesDir, VSOCK_MODULES, "grep -qx 0x1053 /sys/bus/pci/devices/*/device");
            loadWhenPresent(load, modules, modulesDir, BALLOON_MODULES, "grep -qx 0x1045 /sys/bus/pci/devices/*/device");
        }
        String init = PROLOGUE + load + (modulesDir != null ? SWITCH_ROOT : "") + BOOT_DONE + """
                echo
                echo "Flint guest: busybox $(uname -r), $(grep -c ^processor /proc/cpuinfo) CPU(s). 'poweroff -f' or 'exit' ends the VM."
                setsid cttyhack sh -l
                poweroff -f
                """;
        InitramfsBuilder builder = base(busybox, init);
        for (Path module : modules) builder.file("/lib/modules/" + module.getFileName(), module, 0644);
        return builder;
    }

    /**
     * A guest for tests: prints {@code marker}, then {@code cpus=N} (online CPUs), then powers off.
     */
    public static InitramfsBuilder marker(String marker, Path busybox) {
        if (!SAFE_MARKER.matcher(marker).matches()) {
            throw new IllegalArgumentException("marker must match " + SAFE_MARKER + ": " + marker);
        }
        String init = PROLOGUE + BOOT_DONE + "echo " + marker + "\n" + COUNT_CPUS + """
                echo "cpus=$n"
                poweroff -f
                """;
        return base(busybox, init);
    }

    private static InitramfsBuilder base(Path busybox, String init) {
        return new InitramfsBuilder()
                .directory("/bin", 0755)
                .file("/bin/busybox", busybox, 0755)
                .directory("/dev", 0755)
                // The kernel opens /dev/console for init's stdio before any devtmpfs exists.
                .charDevice("/dev/console", 0600, 5, 1)
                .charDevice("/dev/null", 0666, 1, 3)
                .directory("/proc", 0555)
                .directory("/sys", 0555)
                .directory("/tmp", 01777)
                .directory("/root", 0700)
                .file("/init", init, 0755);
    }
}
