package dev.flint.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.api.generated.model.InstanceActionInfo;
import dev.flint.api.generated.model.MmdsConfig;
import dev.flint.api.generated.model.NetworkInterface;
import dev.flint.boot.FlintProcess;
import dev.flint.boot.NetNamespace;
import dev.flint.guest.GuestAssets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * The metadata service as a stock guest reaches it, for either engine: an interface on a TAP in a test
 * network namespace (nothing listens there: the VMM answers the MMDS frames itself), the data store put
 * over the API, then inside the guest busybox {@code wget} for a value and, for the session token, a raw
 * {@code PUT /latest/api/token} through {@code nc} (busybox wget cannot PUT) followed by a {@code wget}
 * that sends the token. With V2, the tokenless {@code wget} is refused (401); with V1 it gets the value.
 * Needs {@link NetNamespace}.
 */
public final class ApiMmdsGuest {
    private static final String TAP = "fcmmds0";

    private ApiMmdsGuest() {}

    public static void run(String engine, String version, Path dir) throws Exception {
        GuestAssets assets = GuestAssets.open(GuestAssets.defaultCacheDir());
        assets.fetch(System.out);
        Path socket = dir.resolve("flint.sock");
        try (NetNamespace ns = NetNamespace.create()) {
            ns.exec("ip", "tuntap", "add", "dev", TAP, "mode", "tap");
            ns.exec("ip", "link", "set", TAP, "up");
            try (FlintProcess flint = FlintProcess.startUnder(ns.wrapper(), "vmm", "--api-sock", socket.toString(),
                    "--engine", engine)) {
                for (int i = 0; i < 1800 && !Files.exists(socket); i++) Thread.sleep(100);
                try (UnixSocketClient client = new UnixSocketClient(socket)) {
                    ApiGuestBoot.putDefaultGuest(client, assets);
                    assertEquals(204, client.send("PUT", "/network-interfaces/eth0",
                            new NetworkInterface().ifaceId("eth0").hostDevName(TAP)).status());
                    var config = client.send("PUT", "/mmds/config", new MmdsConfig().networkInterfaces(List.of("eth0"))
                            .version(MmdsConfig.VersionEnum.fromValue(version)));
                    assertEquals(204, config.status(), config.body());
                    assertEquals(204, client.sendRaw("PUT", "/mmds",
                            "{\"latest\": {\"meta-data\": {\"ami-id\": \"ami-0flint\", \"hostname\": \"guest-one\"}}}").status());
                    var started = client.send("PUT", "/actions", new InstanceActionInfo()
                            .actionType(InstanceActionInfo.ActionTypeEnum.INSTANCE_START));
                    assertEquals(204, started.status(), started.body());

                    flint.await("Flint guest: busybox", Duration.ofMinutes(10));
                    flint.await("# ", Duration.ofMinutes(2));
                    String url = "http://169.254.169.254/latest/meta-data/";
                    flint.type("ip addr add 172.16.0.2/24 dev eth0 && ip link set eth0 up && ip route add 169.254.169.254 dev eth0"
                            + " && echo net-$((1+1))-up");
                    flint.await("net-2-up", Duration.ofMinutes(1));
                    // A value changed at run time is what the guest reads.
                    assertEquals(204, client.sendRaw("PATCH", "/mmds", "{\"latest\": {\"meta-data\": {\"hostname\": \"guest-two\"}}}").status());
                    flint.type("wget -q -O - " + url + "ami-id; echo; echo plain-$((1+1))-done");
                    flint.await("plain-2-done", Duration.ofMinutes(2));
                    flint.type("T=$(printf 'PUT /latest/api/token HTTP/1.1\\r\\nHost: 169.254.169.254\\r\\n"
                            + "X-metadata-token-ttl-seconds: 60\\r\\nConnection: close\\r\\n\\r\\n' | nc 169.254.169.254 80 | tail -n 1)"
                            + " && echo token-length-${#T}");
                    flint.await("token-length-", Duration.ofMinutes(2));
                    flint.type("wget -q -O - --header \"X-metadata-token: $T\" " + url + "hostname; echo; echo token-$((1+1))-done");
                    flint.await("token-2-done", Duration.ofMinutes(2));
                    String out = flint.output();
                    // What each command printed (with its echo, which the console wraps): from the previous marker to its own.
                    String plain = out.substring(out.indexOf("\nnet-2-up"), out.indexOf("\nplain-2-done"));
                    if (version.equals("V1")) assertTrue(plain.contains("ami-0flint"), out);
                    else assertTrue(plain.contains("401") && !plain.contains("ami-0flint"), out);
                    assertTrue(out.contains("token-length-43"), out);
                    String withToken = out.substring(out.indexOf("\ntoken-length-"), out.indexOf("\ntoken-2-done"));
                    assertTrue(withToken.contains("guest-two"), out);
                    flint.type("poweroff -f");
                }
                assertEquals(0, flint.exitCode(Duration.ofMinutes(3)), flint.output());
            }
        }
    }
}
