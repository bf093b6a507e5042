package dev.flint.cloud.compute;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.flint.boot.NetNamespace;
import dev.flint.cloud.compute.InstanceRuntime.LaunchSpec;
import dev.flint.cloud.compute.MetadataSource.InstanceMetadata;
import dev.flint.cloud.compute.MetadataSource.PublicKey;
import dev.flint.guest.GuestAssets;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Instances as real microVMs, end to end, inside a network namespace the test makes: the debian-12 image
 * boots through {@link VmmRuntime} on the emu engine, takes its key and user-data from the metadata
 * service, answers SSH as {@code admin}, refuses IMDSv1 when tokens are required, cannot pass for another
 * instance, shuts down cleanly on request, keeps its disk and address across a relaunch, is taken back by
 * a second runtime (a restarted daemon) and is killed. Two boots in all; each takes a minute or more on
 * emu under load, so every wait is on observed state with a generous limit.
 */
class VmmRuntimeTest {
    private static final Duration BOOT = Duration.ofMinutes(12);
    private static final String ID = "i-0f1e2d3c4b5a69788";
    private static final String IP = "172.31.0.5", OTHER_IP = "172.31.0.9";
    private static final String MAC = "06:00:ac:1f:00:05";

    sealed interface Event permits Booted, Exited {}
    record Booted(String id) implements Event {}
    record Exited(String id, String detail) implements Event {}

    private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
    private final InstanceRuntime.Listener listener = new InstanceRuntime.Listener() {
        @Override public void booted(String id) { events.add(new Booted(id)); }
        @Override public void exited(String id, String detail) { events.add(new Exited(id, detail)); }
    };

    @Test
    void anInstanceBootsAnswersSshKeepsItsDiskAndShutsDown(@TempDir Path tmp) throws Exception {
        String reason = NetNamespace.unavailableReason();
        assumeTrue(reason == null, () -> "needs network namespaces: " + reason);
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/debootstrap")), "needs debootstrap for the image");
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/nft")), "needs nftables");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/ssh")), "needs an ssh client");

        GuestAssets assets = GuestAssets.open(GuestAssets.defaultCacheDir());
        Path image = new CloudImage(assets).ensureDefaultImage(System.out);
        Path volume = tmp.resolve("root.ext4");
        run("cp", "--sparse=always", image.toString(), volume.toString());
        Path key = tmp.resolve("id_ed25519");
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test-key", "-f", key.toString());
        String publicKey = Files.readString(tmp.resolve("id_ed25519.pub")).strip();

        String userData = "#!/bin/sh\necho \"user-data ran as $(id -un)\" >> /var/tmp/user-data-ran\necho user-data-says-hello\n";
        InstanceMetadata ours = new InstanceMetadata(ID, "t3.micro", "ami-0123456789abcdef0", IP, "ip-172-31-0-5.ec2.internal",
                "flint-1a", MAC, List.of(new PublicKey("test-key", publicKey)), userData.getBytes(StandardCharsets.UTF_8), true);
        InstanceMetadata other = new InstanceMetadata("i-0aaaaaaaaaaaaaaa1", "t3.micro", "ami-0123456789abcdef0", OTHER_IP,
                "ip-172-31-0-9.ec2.internal", "flint-1a", "06:00:ac:1f:00:09", List.of(),
                "secret-of-the-other-instance".getBytes(StandardCharsets.UTF_8), false);
        Map<String, InstanceMetadata> byIp = Map.of(IP, ours, OTHER_IP, other);
        MetadataSource metadata = ip -> Optional.ofNullable(byIp.get(ip));

        Path runtimeDir = Files.createTempDirectory(Path.of("/tmp"), "flint-rt-");
        LaunchSpec spec = new LaunchSpec(ID, 1, 512, volume, List.of(), IP, MAC);
        try (NetNamespace ns = NetNamespace.create()) {
            VmmRuntime.Options options = VmmRuntime.Options.defaults(runtimeDir, assets).inNamespace(ns.name());
            VmmRuntime runtime = VmmRuntime.start(options, metadata, listener);
            try {
                // The namespace itself is no instance: the metadata service does not know it.
                assertEquals("404", ns.exec("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                        "http://169.254.169.254/latest/meta-data/instance-id").strip());

                long launched = System.nanoTime();
                runtime.launch(spec);
                assertTrue(runtime.isRunning(ID));
                assertEquals(new Booted(ID), next(BOOT, runtime));
                String whoami = ssh(ns, key, "id -un; sudo -n id -u; hostname; cat /var/tmp/user-data-ran");
                System.out.printf("launch() to SSH answering: %.1f s%n", (System.nanoTime() - launched) / 1e9);
                assertEquals(List.of("admin", "0", "ip-172-31-0-5", "user-data ran as root"), whoami.strip().lines().toList());
                String console = new String(runtime.consoleOutput(ID).orElseThrow(), StandardCharsets.UTF_8);
                assertTrue(console.contains("user-data-says-hello"), "user-data output on the console:\n" + console);
                console.lines().filter(l -> l.contains("Run /init") || l.startsWith("cloud-boot:")).forEach(System.out::println);

                // IMDS from inside: v1 refused (tokens required), v2 works; posing as another instance does not.
                String imds = ssh(ns, key, String.join("; ",
                        "curl -s -o /dev/null -w 'v1=%{http_code}\\n' http://169.254.169.254/latest/meta-data/instance-id",
                        "t=$(curl -s -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token)",
                        "echo v2=$(curl -s -H \"X-aws-ec2-metadata-token: $t\" http://169.254.169.254/latest/meta-data/instance-id)",
                        "sudo ip addr add " + OTHER_IP + "/20 dev eth0",
                        "curl -s -m 5 --interface " + OTHER_IP + " http://169.254.169.254/latest/user-data; echo spoof=$?",
                        "sudo ip addr del " + OTHER_IP + "/20 dev eth0",
                        "echo kept > /home/admin/kept.txt; sync"));
                assertTrue(imds.contains("v1=401"), imds);
                assertTrue(imds.contains("v2=" + ID), imds);
                assertFalse(imds.contains("secret-of-the-other-instance"), imds);
                assertTrue(imds.contains("spoof=28"), "the spoofed request must time out:\n" + imds);

                runtime.requestShutdown(ID);
                Event stopped = next(Duration.ofMinutes(3), runtime);
                assertEquals(new Exited(ID, "the guest powered off"), stopped);
                assertFalse(runtime.isRunning(ID));
                console = new String(runtime.consoleOutput(ID).orElseThrow(), StandardCharsets.UTF_8);
                assertTrue(console.contains("cloud-halt: root file system clean"), console);

                // Same volume, same address: the file is still there and user-data did not run again.
                runtime.launch(spec);
                assertEquals(new Booted(ID), next(BOOT, runtime));
                assertEquals(List.of("kept", "1"), ssh(ns, key, "cat kept.txt; wc -l < /var/tmp/user-data-ran").strip().lines().toList());
            } finally {
                runtime.close();
            }

            // A restarted daemon: a new runtime finds the VMM still running, takes it back, and can kill it.
            assertTrue(runtimeAlive(runtimeDir), "the VMM outlives its runtime");
            VmmRuntime again = VmmRuntime.start(options, metadata, listener);
            try {
                events.clear();
                assertEquals(List.of(ID), again.adoptSurvivors());
                assertTrue(again.isRunning(ID));
                assertEquals("kept", ssh(ns, key, "cat kept.txt").strip(), "the guard and the metadata service are back");
                again.kill(ID);
                Event killed = next(Duration.ofMinutes(1), again);
                while (killed instanceof Booted) killed = next(Duration.ofMinutes(1), again);
                assertEquals(ID, ((Exited) killed).id());
                assertFalse(again.isRunning(ID));
                assertFalse(ns.succeeds("ip", "link", "show", "dev", InstanceNetwork.tapFor(IP)), "the TAP is gone");
            } finally {
                for (String id : List.of(ID)) again.kill(id);
                again.close();
            }
        } finally {
            run("rm", "-rf", runtimeDir.toString());
        }
    }

    private static boolean runtimeAlive(Path runtimeDir) {
        return VmmRecord.read(runtimeDir.resolve("instances").resolve(ID).resolve("vmm.properties"))
                .flatMap(VmmRecord::live).isPresent();
    }

    private Event next(Duration timeout, VmmRuntime runtime) throws InterruptedException {
        Event e = events.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        if (e == null) {
            String console = runtime.consoleOutput(ID).map(b -> new String(b, StandardCharsets.UTF_8)).orElse("(none)");
            throw new AssertionError("no instance event within " + timeout + "; console:\n" + console);
        }
        return e;
    }

    /** Runs a command as admin over SSH from inside the namespace, retrying while sshd is not up yet. */
    private static String ssh(NetNamespace ns, Path key, String command) throws IOException, InterruptedException {
        List<String> ssh = new ArrayList<>(ns.wrapper());
        ssh.addAll(List.of("ssh", "-i", key.toString(), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "BatchMode=yes", "-o", "ConnectTimeout=20", "-o", "LogLevel=ERROR", "admin@" + IP, command));
        String last = "";
        for (int attempt = 0; attempt < 10; attempt++) {
            Process p = new ProcessBuilder(ssh).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor(3, TimeUnit.MINUTES) && p.exitValue() == 0) return out;
            last = out;
            Thread.sleep(2_000);
        }
        throw new AssertionError("ssh admin@" + IP + " failed: " + last);
    }

    private static void run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) throw new IOException(String.join(" ", command) + " failed: " + out);
    }
}
