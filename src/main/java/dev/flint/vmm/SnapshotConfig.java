package dev.flint.vmm;

import dev.flint.devices.virtio.block.DriveConfig;
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
 * back (vCPUs, RAM, the devices in slot order with their host backends). Network interfaces keep the
 * guest's MAC, random ones included; their TAP devices can be replaced on load (Firecracker's
 * network_overrides).
 */
final class SnapshotConfig {
    static final String SECTION = "vmm.config";

    private SnapshotConfig() {}

    static void save(StateWriter state, VmConfig c, List<String> netIds, List<MacAddress> macs) {
        if (c.vsock() != null) throw new SnapshotException("snapshots of a microVM with a vsock device are not supported yet");
        if (c.balloon() != null) throw new SnapshotException("snapshots of a microVM with a balloon device are not supported yet");
        for (NetConfig n : c.nets()) {
            if (n.mmds() != null) throw new SnapshotException("snapshots of a microVM serving MMDS are not supported yet");
            if (n.rxRateLimit().limits() || n.txRateLimit().limits()) {
                throw new SnapshotException("snapshots of a microVM with rate-limited network interfaces are not supported yet");
            }
        }
        for (DriveConfig d : c.drives()) {
            if (d.rateLimit() != null && d.rateLimit().limits()) {
                throw new SnapshotException("snapshots of a microVM with rate-limited drives are not supported yet");
            }
        }
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
    }

    /** The configuration to build; every override must name an interface of the snapshot. */
    static VmConfig restore(StateReader state, String engine, Map<String, String> tapOverrides) {
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
        if (!unused.isEmpty()) {
            throw new SnapshotException("network_overrides: the snapshot has no network interface " + unused.keySet().iterator().next());
        }
        try {
            return new VmConfig(kernel, initrd.isEmpty() ? null : Path.of(initrd), cmdline, cpus, memoryMib, engine, drives, rng,
                    bootTimer, nets, null, emptyNvme, debugExit);
        } catch (VmConfigException e) {
            throw new SnapshotException("the snapshot's machine cannot be built here: " + e.getMessage(), e);
        }
    }

    private static int count(int n, String what) {
        if (n < 0 || n > 32) throw new SnapshotException("the snapshot lists " + n + " " + what);
        return n;
    }
}
