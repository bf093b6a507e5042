package dev.flint.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.api.generated.model.FullVmConfiguration;
import dev.flint.api.generated.model.InstanceActionInfo;
import dev.flint.api.generated.model.Metrics;
import dev.flint.api.generated.model.NetworkInterface;
import dev.flint.api.generated.model.PartialNetworkInterface;
import dev.flint.boot.FlintProcess;
import dev.flint.boot.NetNamespace;
import dev.flint.guest.GuestAssets;
import dev.flint.testing.Await;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A network interface configured the Firecracker way, for either engine: {@code PUT /network-interfaces}
 * on an existing persistent TAP inside a test network namespace, then InstanceStart. The guest's eth0 comes
 * up with the configured MAC and pings the host side; the net metrics count the traffic and show which path
 * its notifications and interrupts took (kvm: ioeventfd and irqfd); a PATCH after boot is refused (Flint
 * has no rate limiters); and the TAP, which Flint did not create, is still there after the VM ends. Needs
 * {@link NetNamespace} to be available.
 */
public final class ApiNetworkGuest {
    private static final String TAP = "fctap0", MAC = "06:00:ac:10:00:02";

    private ApiNetworkGuest() {}

    public static void run(String engine, Path dir) throws Exception {
        GuestAssets assets = GuestAssets.open(GuestAssets.defaultCacheDir());
        assets.fetch(System.out);
        Path socket = dir.resolve("flint.sock");
        Path metrics = dir.resolve("metrics.json");
        try (NetNamespace ns = NetNamespace.create()) {
            ns.exec("ip", "tuntap", "add", "dev", TAP, "mode", "tap");
            ns.exec("ip", "addr", "add", "172.16.0.1/24", "dev", TAP);
            ns.exec("ip", "link", "set", TAP, "up");
            try (FlintProcess flint = FlintProcess.startUnder(ns.wrapper(), "vmm", "--api-sock", socket.toString(),
                    "--engine", engine)) {
                Await.until("the API socket exists", Duration.ofMinutes(3), () -> Files.exists(socket)); // minutes when nested
                try (UnixSocketClient client = new UnixSocketClient(socket)) {
                    ApiGuestBoot.putDefaultGuest(client, assets);
                    assertEquals(204, client.send("PUT", "/metrics", new Metrics().metricsPath(metrics.toString())).status());
                    var put = client.send("PUT", "/network-interfaces/eth0",
                            new NetworkInterface().ifaceId("eth0").hostDevName(TAP).guestMac(MAC));
                    assertEquals(204, put.status(), put.body());
                    var started = client.send("PUT", "/actions", action(InstanceActionInfo.ActionTypeEnum.INSTANCE_START));
                    assertEquals(204, started.status(), started.body());
                    assertEquals(MAC, client.get("/vm/config").as(FullVmConfiguration.class).getNetworkInterfaces()
                            .getFirst().getGuestMac());
                    // A PATCH naming no rate limiter changes nothing, as in Firecracker (limits: ApiRateLimitTest).
                    var patch = client.send("PATCH", "/network-interfaces/eth0", new PartialNetworkInterface().ifaceId("eth0"));
                    assertEquals(204, patch.status(), patch.body());

                    flint.await("Flint guest: busybox", Duration.ofMinutes(10));
                    flint.await("# ", Duration.ofMinutes(2));
                    flint.type("ip addr add 172.16.0.2/24 dev eth0 && ip link set eth0 up && cat /sys/class/net/eth0/address"
                            + " && ping -c 3 -W 5 172.16.0.1 && echo ping-$((1+1))-ok");
                    flint.await("ping-2-ok", Duration.ofMinutes(3));
                    assertTrue(flint.output().contains(MAC), flint.output());

                    assertEquals(204, client.send("PUT", "/actions", action(InstanceActionInfo.ActionTypeEnum.FLUSH_METRICS)).status());
                    var net = MetricsTotals.of(metrics, "net");
                    assertTrue(net.getOrDefault("tx_packets_count", 0L) >= 3 && net.getOrDefault("rx_packets_count", 0L) >= 3
                            && net.getOrDefault("rx_bytes_count", 0L) > 0 && net.getOrDefault("tx_bytes_count", 0L) > 0,
                            "three pings each way at least: " + net);
                    ApiGuestBoot.assertVirtioPaths(engine, metrics, "net");
                    flint.type("poweroff -f");
                }
                assertEquals(0, flint.exitCode(Duration.ofMinutes(3)), flint.output());
            }
            assertTrue(ns.exec("ip", "-d", "link", "show", TAP).contains("persist on"), "a persistent TAP is left in place");
        }
    }

    private static InstanceActionInfo action(InstanceActionInfo.ActionTypeEnum type) {
        return new InstanceActionInfo().actionType(type);
    }
}
