package dev.flint.vmm;

import dev.flint.devices.mmds.Mmds;
import dev.flint.devices.virtio.balloon.BalloonConfig;
import dev.flint.devices.virtio.block.DriveConfig;
import dev.flint.devices.virtio.vsock.VsockConfig;
import dev.flint.devices.virtio.net.MacAddress;
import dev.flint.devices.virtio.net.NetConfig;
import dev.flint.machine.state.SnapshotException;
import dev.flint.machine.state.StateReader;
import dev.flint.machine.state.StateWriter;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The machine's configuration in its snapshot: what a new VMM must build before it can take the state
 * back (vCPUs, RAM, the devices in slot order with their host backends: drives, NVMe controllers, network
 * interfaces and whether they serve MMDS, vsock, balloon). Network interfaces keep the guest's MAC, random
 * ones included; their TAP devices can be replaced on load (Firecracker's network_overrides). Rate limits
 * are not configuration here: each device's state carries its limiters as they last were.
 */
final class SnapshotConfig {
    static final String SECTION = "vmm.config";
    static final String DEVICES_SECTION = "vmm.config.devices";
    static final int DEVICES_VERSION = 1;

    private SnapshotConfig() {}

    static void save(StateWriter state, VmConfig c, List<String> netIds, List<MacAddress> macs) {
        try (var s = state.section(SECTION)) {
            s.putString(c.kernel().toString()).putString(c.initrd() == null ? "" : c.initrd().toString())
                    .putString(c.cmdline()).putInt(c.cpus()).putLong(c.memoryMib());
            s.putInt(c.drives().size());
            for (DriveConfig d : c.drives()) {
                s.putString(d.path().toString()).putBoolean(d.readOnly()).putString(d.iface().name())
                        .putString(d.serial() == null ? "" : d.serial());
            }
            s.putInt(c.emptyNvmeControllers()).putBoolean(c.rng()).putBoolean(c.bootTimer()).putInt(c.debugExitPort());
            s.putInt(c.nets().size());
            for (int i = 0; i < c.nets().size(); i++) {
                NetConfig n = c.nets().get(i);
                s.putString(i < netIds.size() ? netIds.get(i) : "net" + i).putString(n.tap()).putLong(macs.get(i).value())
                        .putInt(n.mtu() == null ? -1 : n.mtu());
            }
        }
        // The devices added since the first snapshot format, in a section of their own so that older
        // snapshots (without it) still load.
        try (var s = state.section(DEVICES_SECTION)) {
            s.putInt(DEVICES_VERSION);
            s.putBoolean(c.vsock() != null);
            if (c.vsock() != null) s.putLong(c.vsock().guestCid()).putString(c.vsock().udsPath().toString());
            s.putBoolean(c.balloon() != null);
            if (c.balloon() != null) {
                s.putLong(c.balloon().amountMib()).putBoolean(c.balloon().deflateOnOom()).putInt(c.balloon().statsPollingIntervalS());
            }
            s.putInt(c.nets().size());
            for (NetConfig n : c.nets()) s.putBoolean(n.mmds() != null);
        }
    }

    /** The configuration to build; every override must name an interface of the snapshot. */
    static VmConfig restore(StateReader state, String engine, Map<String, String> tapOverrides, Mmds mmds) {
        var s = state.section(SECTION);
        Path kernel = Path.of(s.getString());
        String initrd = s.getString();
        String cmdline = s.getString();
        int cpus = s.getInt();
        long memoryMib = s.getLong();
        int driveCount = count(s.getInt(), "drives");
        List<DriveConfig> drives = new ArrayList<>();
        for (int i = 0; i < driveCount; i++) {
            Path path = Path.of(s.getString());
            boolean ro = s.getBoolean();
            DriveConfig.Interface iface;
            try {
                iface = DriveConfig.Interface.valueOf(s.getString());
            } catch (IllegalArgumentException e) {
                throw new SnapshotException("the snapshot names an unknown drive interface");
            }
            String serial = s.getString();
            drives.add(new DriveConfig(path, ro, iface, serial.isEmpty() ? null : serial));
        }
        int emptyNvme = s.getInt();
        boolean rng = s.getBoolean();
        boolean bootTimer = s.getBoolean();
        int debugExit = s.getInt();
        int netCount = count(s.getInt(), "network interfaces");
        List<NetConfig> nets = new ArrayList<>();
        Map<String, String> unused = new HashMap<>(tapOverrides);
        for (int i = 0; i < netCount; i++) {
            String id = s.getString();
            String tap = s.getString();
            MacAddress mac = new MacAddress(s.getLong());
            int mtu = s.getInt();
            String override = unused.remove(id);
            nets.add(new NetConfig(override != null ? override : tap, mac, mtu < 0 ? null : mtu));
        }
        s.end();
        VsockConfig vsock = null;
        BalloonConfig balloon = null;
        if (state.has(DEVICES_SECTION)) {
            var d = state.section(DEVICES_SECTION);
            int version = d.getInt();
            if (version != DEVICES_VERSION) {
                throw new SnapshotException("the snapshot's device list is version " + version + ", this Flint reads version " + DEVICES_VERSION);
            }
            try {
                if (d.getBoolean()) vsock = new VsockConfig(d.getLong(), Path.of(d.getString()));
                if (d.getBoolean()) balloon = new BalloonConfig(d.getLong(), d.getBoolean(), d.getInt());
            } catch (RuntimeException e) {
                throw new SnapshotException("the snapshot's devices cannot be built here: " + e.getMessage(), e);
            }
            if (d.getInt() != nets.size()) throw new SnapshotException("the snapshot's device list disagrees on the network interfaces");
            for (int i = 0; i < nets.size(); i++) {
                if (!d.getBoolean()) continue;
                NetConfig n = nets.get(i);
                nets.set(i, new NetConfig(n.tap(), n.mac(), n.mtu(), mmds, n.rxRateLimit(), n.txRateLimit()));
            }
            d.end();
        }
        if (!unused.isEmpty()) {
            throw new SnapshotException("network_overrides: the snapshot has no network interface " + unused.keySet().iterator().next());
        }
        try {
            return VmConfig.builder(kernel).initrd(initrd.isEmpty() ? null : Path.of(initrd)).cmdline(cmdline).cpus(cpus)
                    .memoryMib(memoryMib).engine(engine).drives(drives).rng(rng).bootTimer(bootTimer).nets(nets).vsock(vsock)
                    .emptyNvmeControllers(emptyNvme).debugExitPort(debugExit).balloon(balloon).build();
        } catch (VmConfigException e) {
            throw new SnapshotException("the snapshot's machine cannot be built here: " + e.getMessage(), e);
        }
    }

    private static int count(int n, String what) {
        if (n < 0 || n > 32) throw new SnapshotException("the snapshot lists " + n + " " + what);
        return n;
    }
}
