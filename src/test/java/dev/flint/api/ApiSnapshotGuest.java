package dev.flint.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.api.generated.model.MachineConfiguration;
import dev.flint.boot.FlintProcess;
import dev.flint.boot.NetNamespace;
import dev.flint.guest.GuestAssets;
import dev.flint.testing.Await;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A snapshot round trip as a Firecracker user does it, on either engine: boot the stock guest with a
 * writable disk, write to the disk, pause, snapshot, kill the VMM; a new VMM process loads the snapshot
 * and resumes. The restored guest answers on its serial console, its clock has gone on from where it
 * was, its disk still works (a write after the restore reaches the host's image file), optionally its network
 * interface too (pings to the host before and after), and the memory
 * file is unchanged (mapped copy-on-write). {@link ApiSnapshotGuestTest} runs it on emu, the nested KVM
 * run ({@code dev.flint.nested.KvmGuestTest}) on kvm.
 */
public final class ApiSnapshotGuest {
    private ApiSnapshotGuest() {}

    private static final String TAP = "fcsnap0";
    private static final Duration STEP = Duration.ofMinutes(3);
    private static final Pattern UPTIME = Pattern.compile("up-(\\d+)-end");

    private static long uptime(FlintProcess flint, int nth) throws Exception {
        flint.type("echo up-$(cut -d. -f1 /proc/uptime)-end");
        Await.until("the guest's uptime", STEP, () -> UPTIME.matcher(flint.output()).results().count() >= nth);
        Matcher m = UPTIME.matcher(flint.output());
        long last = -1;
        while (m.find()) last = Long.parseLong(m.group(1));
        return last;
    }

    /**
     * @param cpus    vCPUs of the guest (more than one: the APs' state must come back too, IPIs must work)
     * @param network also a virtio-net interface on a TAP in a network namespace of its own: the guest pings
     *                the host before the snapshot and again after the restore (needs root and {@code ip netns})
     */
    public static void run(String engine, int cpus, boolean network, Path dir) throws Exception {
        run(engine, cpus, network, false, dir);
    }

    /**
     * As {@link #run(String, int, boolean, Path)}; with {@code diff} the machine tracks dirty pages and, after
     * the Full snapshot, the guest resumes and writes files into its RAM, a Diff snapshot follows, and what
     * the new VMM loads is the Diff's state with its memory rebased onto (a copy of) the Full one's
     * ({@link ApiDiffSnapshotGuest}'s steps): the guest's files must come back too. One boot serves both
     * kinds of snapshot, for the nested run, where a boot costs a minute.
     */
    public static void run(String engine, int cpus, boolean network, boolean diff, Path dir) throws Exception {
        NetNamespace ns = network ? NetNamespace.create() : null;
        try {
            if (ns != null) {
                ns.exec("ip", "tuntap", "add", "dev", TAP, "mode", "tap");
                ns.exec("ip", "addr", "add", "172.16.0.1/24", "dev", TAP);
                ns.exec("ip", "link", "set", TAP, "up");
            }
            roundTrip(engine, cpus, ns, diff, dir);
        } finally {
            if (ns != null) ns.close();
        }
    }

    private static FlintProcess vmm(NetNamespace ns, Path socket, String engine) throws Exception {
        String[] args = {"vmm", "--api-sock", socket.toString(), "--engine", engine};
        return ns == null ? FlintProcess.start(args) : FlintProcess.startUnder(ns.wrapper(), args);
    }

    private static void roundTrip(String engine, int cpus, NetNamespace ns, boolean diff, Path dir) throws Exception {
        GuestAssets assets = GuestAssets.open(GuestAssets.defaultCacheDir());
        assets.fetch(System.out);
        Path disk = Files.write(dir.resolve("disk.img"), new byte[1 << 20]);
        Path state = dir.resolve("vm.state");
        Path memory = dir.resolve("vm.mem");
        Path diffState = dir.resolve("diff.state"), diffMemory = dir.resolve("diff.mem");
        long before;
        String blobSum = null;

        Path socket = dir.resolve("a.sock");
        try (FlintProcess flint = vmm(ns, socket, engine)) {
            Await.until("the API socket exists", STEP, () -> Files.exists(socket));
            try (UnixSocketClient client = new UnixSocketClient(socket)) {
                client.awaitAnswering(STEP);
                ApiGuestBoot.putDefaultGuest(client, assets);
                MachineConfiguration machine = new MachineConfiguration().vcpuCount(cpus).memSizeMib(256);
                if (diff) machine.trackDirtyPages(true);
                assertEquals(204, client.send("PUT", "/machine-config", machine).status());
                assertEquals(204, client.sendRaw("PUT", "/drives/data", "{\"drive_id\": \"data\", \"path_on_host\": \""
                        + disk + "\", \"is_root_device\": false, \"is_read_only\": false}").status());
                if (ns != null) {
                    var put = client.sendRaw("PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \""
                            + TAP + "\"}");
                    assertEquals(204, put.status(), put.body());
                }
                var started = client.sendRaw("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
                assertEquals(204, started.status(), started.body());
                flint.await("Flint guest: busybox", Duration.ofMinutes(10));
                flint.await("# ", STEP);
                flint.type("i=0; while [ ! -b /dev/vda ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done;"
                        + " echo before-snapshot > /dev/vda; sync; echo wrote-$((40+2))");
                flint.await("wrote-42", STEP);
                if (ns != null) {
                    flint.type("ip addr add 172.16.0.2/24 dev eth0 && ip link set eth0 up && ping -c 2 -W 5 172.16.0.1"
                            + " && echo ping-$((1+1))-before");
                    flint.await("ping-2-before", STEP);
                }
                before = uptime(flint, 1);

                var paused = client.sendRaw("PATCH", "/vm", "{\"state\": \"Paused\"}");
                assertEquals(204, paused.status(), paused.body());
                var created = client.sendRaw("PUT", "/snapshot/create", "{\"snapshot_type\": \"Full\", \"snapshot_path\": \""
                        + state + "\", \"mem_file_path\": \"" + memory + "\"}");
                assertEquals(204, created.status(), created.body());
                if (diff) {
                    assertEquals(204, client.sendRaw("PATCH", "/vm", "{\"state\": \"Resumed\"}").status());
                    blobSum = ApiDiffSnapshotGuest.writeFiles(flint);
                    assertEquals(204, client.sendRaw("PATCH", "/vm", "{\"state\": \"Paused\"}").status());
                    var diffCreated = client.sendRaw("PUT", "/snapshot/create", "{\"snapshot_type\": \"Diff\", \"snapshot_path\": \""
                            + diffState + "\", \"mem_file_path\": \"" + diffMemory + "\"}");
                    assertEquals(204, diffCreated.status(), diffCreated.body());
                }
            }
            flint.kill();
        }
        assertEquals(256L << 20, Files.size(memory), "the memory file holds all of guest RAM");
        if (diff) {
            ApiDiffSnapshotGuest.checkMemoryFiles(memory, diffMemory);
            memory = ApiDiffSnapshotGuest.rebaseOntoCopy(memory, diffMemory, dir);
            state = diffState;
        }
        String memoryDigest = sha256(memory);
        assertTrue(new String(Files.readAllBytes(disk), 0, 15, StandardCharsets.US_ASCII).equals("before-snapshot"));

        Path socket2 = dir.resolve("b.sock");
        try (FlintProcess flint = vmm(ns, socket2, engine)) {
            Await.until("the API socket exists", STEP, () -> Files.exists(socket2));
            try (UnixSocketClient client = new UnixSocketClient(socket2)) {
                client.awaitAnswering(STEP);
                var loaded = client.sendRaw("PUT", "/snapshot/load", "{\"snapshot_path\": \"" + state + "\", \"mem_backend\": "
                        + "{\"backend_type\": \"File\", \"backend_path\": \"" + memory + "\"}, \"resume_vm\": true}");
                assertEquals(204, loaded.status(), loaded.body());
                assertTrue(client.get("/").body().contains("\"Running\""), client.get("/").body());

                flint.type("echo restored-$((6*7))");
                flint.await("restored-42", STEP);
                if (diff) ApiDiffSnapshotGuest.checkFilesCameBack(flint, blobSum);
                // Every vCPU still online, and busy ones answer (a lost AP would leave CPU 0 waiting on its IPIs).
                flint.type("echo online-$(cat /sys/devices/system/cpu/online)-end; for c in $(seq 0 " + (cpus - 1)
                        + "); do taskset -c $c sh -c \"echo ran-on-$c\"; done; echo loop-$((1+1))-done");
                flint.await("loop-2-done", STEP);
                assertTrue(flint.output().contains("online-" + (cpus == 1 ? "0" : "0-" + (cpus - 1)) + "-end"), flint.output());
                for (int c = 0; c < cpus; c++) assertTrue(flint.output().contains("ran-on-" + c), "vCPU " + c + "\n" + flint.output());
                if (ns != null) {
                    flint.type("ping -c 3 -W 5 172.16.0.1 && echo ping-$((1+1))-after");
                    flint.await("ping-2-after", STEP);
                }
                long after = uptime(flint, 1);
                System.out.printf("snapshot on %s: the guest's uptime was %d s at the snapshot, %d s after the restore%n",
                        engine, before, after);
                assertTrue(after >= before && after < before + 600,
                        "the guest's monotonic clock goes on from the snapshot: " + before + " s then " + after + " s");

                flint.type("echo after-restore > /dev/vda; sync; echo synced-$((1+1))");
                flint.await("synced-2", STEP);
                assertEquals("after-restore", new String(Files.readAllBytes(disk), 0, 13, StandardCharsets.US_ASCII),
                        "a write after the restore reached the disk image");
                flint.type("poweroff -f");
                assertEquals(0, flint.exitCode(STEP), flint.output());
            }
        }
        assertEquals(memoryDigest, sha256(memory), "the restored guest's writes never reach the memory file (copy-on-write)");
    }


    private static String sha256(Path file) throws Exception {
        var md = java.security.MessageDigest.getInstance("SHA-256");
        try (var in = Files.newInputStream(file)) {
            byte[] buf = new byte[1 << 20];
            for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
        }
        return java.util.HexFormat.of().formatHex(md.digest());
    }
}
