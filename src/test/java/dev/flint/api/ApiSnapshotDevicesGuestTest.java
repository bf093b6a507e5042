package dev.flint.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flint.boot.FlintProcess;
import dev.flint.boot.NetNamespace;
import dev.flint.guest.GuestAssets;
import dev.flint.guest.Initramfs;
import dev.flint.testing.Await;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A snapshot of a machine with every kind of device Flint snapshots beyond the basic ones, on the emu engine:
 * an NVMe drive, a rate-limited virtio drive, a rate-limited network interface that serves MMDS, a vsock
 * device and a balloon with statistics. The guest boots and uses each; the VMM is paused, snapshotted and
 * killed; a new VMM process loads the snapshot, and each device still works for the same guest: the NVMe
 * disk reads what the host wrote after the snapshot, the virtio disk's writes reach the image, MMDS answers
 * with the data put before the snapshot, the host reaches the guest's vsock listener again (after the
 * transport reset the device sends), and the balloon reports statistics and follows a new target.
 */
@Tag("guest")
class ApiSnapshotDevicesGuestTest {
    private static final Duration STEP = Duration.ofMinutes(3);
    private static final String TAP = "fcsnap0";
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Where on the NVMe disk the host writes after the snapshot (never read by the guest before). */
    private static final long NVME_MARK_OFFSET = 2L << 20;

    @Test
    void everyDeviceWorksAfterTheSnapshotIsLoadedIntoANewVmm(@TempDir Path dir) throws Exception {
        assumeTrue(NetNamespace.unavailableReason() == null, NetNamespace.unavailableReason());
        Path probe = VsockGuest.compileProbe(dir);
        GuestAssets assets = GuestAssets.open(GuestAssets.defaultCacheDir());
        assets.fetch(System.out);
        Path initrd = dir.resolve("initrd.cpio.gz");
        Initramfs.busyboxShell(assets.busybox(), assets.modulesDir()).file("/bin/vsock-probe", probe, 0755).write(initrd);
        Path nvmeDisk = Files.write(dir.resolve("nvme.img"), new byte[4 << 20]);
        Path disk = Files.write(dir.resolve("disk.img"), new byte[1 << 20]);
        Path state = dir.resolve("vm.state"), memory = dir.resolve("vm.mem"), uds = dir.resolve("v.sock");
        ExecutorService pool = Executors.newCachedThreadPool();
        try (NetNamespace ns = NetNamespace.create()) {
            ns.exec("ip", "tuntap", "add", "dev", TAP, "mode", "tap");
            ns.exec("ip", "link", "set", TAP, "up");

            Path socket = dir.resolve("a.sock");
            try (FlintProcess flint = FlintProcess.startUnder(ns.wrapper(), "vmm", "--api-sock", socket.toString(), "--engine", "emu")) {
                Await.until("the API socket exists", STEP, () -> Files.exists(socket));
                try (UnixSocketClient client = new UnixSocketClient(socket)) {
                    client.awaitAnswering(STEP);
                    ok(client, "PUT", "/boot-source", "{\"kernel_image_path\": \"" + assets.kernel() + "\", \"initrd_path\": \""
                            + initrd + "\", \"boot_args\": \"console=ttyS0 reboot=k panic=-1\"}");
                    ok(client, "PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 256}");
                    ok(client, "PUT", "/drives/data", "{\"drive_id\": \"data\", \"path_on_host\": \"" + disk + "\", \"is_root_device\": false,"
                            + " \"is_read_only\": false, \"rate_limiter\": {\"bandwidth\": {\"size\": 4194304, \"refill_time\": 1000},"
                            + " \"ops\": {\"size\": 1000, \"refill_time\": 1000}}}");
                    ok(client, "PUT", "/drives/fast", "{\"drive_id\": \"fast\", \"path_on_host\": \"" + nvmeDisk + "\", \"is_root_device\": false,"
                            + " \"is_read_only\": false, \"interface\": \"nvme\"}");
                    ok(client, "PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"" + TAP + "\","
                            + " \"rx_rate_limiter\": {\"ops\": {\"size\": 1000, \"refill_time\": 1000}},"
                            + " \"tx_rate_limiter\": {\"bandwidth\": {\"size\": 10000000, \"refill_time\": 1000}}}");
                    ok(client, "PUT", "/mmds/config", "{\"network_interfaces\": [\"eth0\"], \"version\": \"V1\"}");
                    ok(client, "PUT", "/mmds", "{\"latest\": {\"meta-data\": {\"ami-id\": \"ami-0snapped\"}}}");
                    ok(client, "PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"" + uds + "\"}");
                    ok(client, "PUT", "/balloon", "{\"amount_mib\": 0, \"deflate_on_oom\": false, \"stats_polling_interval_s\": 1}");
                    ok(client, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");

                    flint.await("Flint guest: busybox", Duration.ofMinutes(10));
                    flint.await("# ", STEP);
                    flint.type("i=0; while { [ ! -b /dev/vda ] || [ ! -b /dev/nvme0n1 ]; } && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done;"
                            + " ip addr add 172.16.0.2/24 dev eth0 && ip link set eth0 up && ip route add 169.254.169.254 dev eth0;"
                            + " vsock-probe listen 5000 & sleep 1; echo ready-$((40+2))");
                    flint.await("ready-42", STEP);
                    flint.await("vsock-probe: listening on 5000", STEP);
                    flint.type("wget -q -O - http://169.254.169.254/latest/meta-data/ami-id; echo; echo mmds-$((1+1))-before");
                    flint.await("mmds-2-before", STEP);
                    assertTrue(flint.output().contains("ami-0snapped\n") || flint.output().contains("ami-0snapped\r\n"), flint.output());
                    byte[] echo = VsockGuest.hostStream(uds, 5000, "before".getBytes(StandardCharsets.US_ASCII), pool);
                    assertEquals("before", new String(echo, StandardCharsets.US_ASCII));
                    stats(client, "the guest's first balloon statistics", s -> s.has("free_memory"));

                    ok(client, "PATCH", "/vm", "{\"state\": \"Paused\"}");
                    ok(client, "PUT", "/snapshot/create", "{\"snapshot_type\": \"Full\", \"snapshot_path\": \"" + state
                            + "\", \"mem_file_path\": \"" + memory + "\"}");
                }
                flint.kill();
            }
            // Written after the snapshot: the restored guest can only know it by reading the NVMe device.
            try (RandomAccessFile f = new RandomAccessFile(nvmeDisk.toFile(), "rw")) {
                f.seek(NVME_MARK_OFFSET);
                f.write("nvme-after-snap".getBytes(StandardCharsets.US_ASCII));
            }

            Path socket2 = dir.resolve("b.sock");
            try (FlintProcess flint = FlintProcess.startUnder(ns.wrapper(), "vmm", "--api-sock", socket2.toString(), "--engine", "emu")) {
                Await.until("the API socket exists", STEP, () -> Files.exists(socket2));
                try (UnixSocketClient client = new UnixSocketClient(socket2)) {
                    client.awaitAnswering(STEP);
                    ok(client, "PUT", "/snapshot/load", "{\"snapshot_path\": \"" + state + "\", \"mem_backend\": "
                            + "{\"backend_type\": \"File\", \"backend_path\": \"" + memory + "\"}, \"resume_vm\": true}");
                    assertEquals("ami-0snapped", JSON.readTree(client.get("/mmds").body()).at("/latest/meta-data/ami-id").asText(),
                            "the API's data store is the snapshot's");

                    flint.type("echo restored-$((6*7))");
                    flint.await("restored-42", STEP);
                    flint.type("dd if=/dev/nvme0n1 bs=4096 skip=" + NVME_MARK_OFFSET / 4096 + " count=1 2>/dev/null | head -c 15;"
                            + " echo; echo nvme-$((1+1))-read");
                    flint.await("nvme-2-read", STEP);
                    assertTrue(flint.output().contains("nvme-after-snap"), "the NVMe disk reads after the restore: " + tail(flint.output()));

                    flint.type("echo after-restore > /dev/vda; sync; echo synced-$((1+1))");
                    flint.await("synced-2", STEP);
                    assertEquals("after-restore", new String(Files.readAllBytes(disk), 0, 13, StandardCharsets.US_ASCII),
                            "a write to the rate-limited virtio disk after the restore reached its image");

                    flint.type("wget -q -O - http://169.254.169.254/latest/meta-data/ami-id; echo; echo mmds-$((1+1))-after");
                    flint.await("mmds-2-after", STEP);
                    String out = flint.output();
                    // This VMM's console only: what the wget printed lies between its command line and the marker.
                    String answer = out.substring(out.lastIndexOf("wget -q"), out.lastIndexOf("mmds-2-after"));
                    assertTrue(answer.contains("ami-0snapped"), "MMDS answers the restored guest over the rate-limited NIC: " + tail(out));

                    byte[] data = new byte[20_000];
                    new java.util.Random(7).nextBytes(data);
                    assertArrayEquals(data, pool.submit(() -> VsockGuest.hostStream(uds, 5000, data, pool)).get(5, TimeUnit.MINUTES),
                            "the guest's vsock listener is reached through the restored device");

                    stats(client, "balloon statistics from the restored guest", s -> s.has("free_memory"));
                    ok(client, "PATCH", "/balloon", "{\"amount_mib\": 16}");
                    stats(client, "the restored balloon inflated to its new target", s -> s.path("actual_mib").asLong() == 16);

                    flint.type("poweroff -f");
                    assertEquals(0, flint.exitCode(STEP), tail(flint.output()));
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private static void ok(UnixSocketClient client, String method, String path, String body) throws Exception {
        var reply = client.sendRaw(method, path, body);
        assertEquals(204, reply.status(), method + " " + path + ": " + reply.body());
    }

    private static void stats(UnixSocketClient client, String what, java.util.function.Predicate<JsonNode> condition) throws Exception {
        Await.until(what, STEP, () -> {
            var reply = client.get("/balloon/statistics");
            return reply.status() == 200 && condition.test(JSON.readTree(reply.body()));
        });
    }

    private static String tail(String output) {
        return output.substring(Math.max(0, output.length() - 3000));
    }

}
