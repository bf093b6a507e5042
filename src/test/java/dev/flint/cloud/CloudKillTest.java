package dev.flint.cloud;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.retry.RetryMode;
import software.amazon.awssdk.http.apache5.Apache5HttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.ec2.model.Instance;
import software.amazon.awssdk.services.ec2.model.KeyPairInfo;

/**
 * {@code kill -9} of a daemon (its own JVM, over the fake runtime) while clients are writing: after a restart on
 * the same data folder every write the daemon acknowledged is there (SQLite WAL, synchronous=FULL).
 */
class CloudKillTest {
    @TempDir
    Path temp;

    @Test
    void noAcknowledgedRecordIsLostToKill9() throws Exception {
        Path data = temp.resolve("data");
        Files.createDirectories(data);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        Process daemon = new ProcessBuilder(java, "-XX:+UseSerialGC", "-cp", classpath, FakeDaemonMain.class.getName(), data.toString())
                .redirectErrorStream(true).redirectOutput(temp.resolve("daemon.log").toFile()).start();
        Set<String> acknowledgedKeys = ConcurrentHashMap.newKeySet();
        Set<String> acknowledgedInstances = ConcurrentHashMap.newKeySet();
        try {
            CloudHarness.await("daemon endpoint", Duration.ofSeconds(90), () -> Files.exists(data.resolve("endpoint")) || !daemon.isAlive());
            assertTrue(daemon.isAlive(), () -> log(temp));
            var credentials = dev.flint.cloud.ec2.CloudCredentials.load(data);
            String endpoint = Files.readString(data.resolve("endpoint")).strip();
            Path image = CloudHarness.ext4Image(temp, "img.ext4");
            String imageId;
            try (Ec2Client ec2 = client(endpoint, credentials)) {
                imageId = ec2.registerImage(r -> r.name("kill-test").imageLocation(image.toString())).imageId();
            }
            AtomicBoolean stop = new AtomicBoolean();
            List<Thread> writers = new ArrayList<>();
            for (int w = 0; w < 3; w++) {
                int writer = w;
                Thread t = Thread.ofPlatform().start(() -> {
                    try (Ec2Client ec2 = client(endpoint, credentials)) {
                        for (int i = 0; !stop.get(); i++) {
                            String name = "k-" + writer + "-" + i;
                            try {
                                if (i % 4 == 3) {
                                    Instance made = ec2.runInstances(r -> r.imageId(imageId).instanceType("t3.nano").minCount(1).maxCount(1)).instances().getFirst();
                                    acknowledgedInstances.add(made.instanceId());
                                } else {
                                    ec2.importKeyPair(r -> r.keyName(name).publicKeyMaterial(software.amazon.awssdk.core.SdkBytes.fromUtf8String(
                                            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOsuqTvUAJEPTHoHziidSDkW39jxUMzo3F9L5LehDBOE")));
                                    acknowledgedKeys.add(name);
                                }
                            } catch (RuntimeException e) {
                                // Refused (the host is full) or cut off by the kill: not acknowledged.
                            }
                        }
                    }
                });
                writers.add(t);
            }
            CloudHarness.await("writes", Duration.ofSeconds(60), () -> acknowledgedKeys.size() >= 60);
            daemon.destroyForcibly(); // SIGKILL
            assertTrue(daemon.waitFor(30, TimeUnit.SECONDS));
            stop.set(true);
            for (Thread t : writers) t.join(30_000);
        } finally {
            daemon.destroyForcibly();
        }
        try (CloudHarness restarted = CloudHarness.start(data, 64 * 1024, false, List.of()); Ec2Client ec2 = restarted.client()) {
            Set<String> stored = ConcurrentHashMap.newKeySet();
            for (KeyPairInfo k : ec2.describeKeyPairs(r -> { }).keyPairs()) stored.add(k.keyName());
            for (String name : acknowledgedKeys) assertTrue(stored.contains(name), "acknowledged key pair " + name + " lost");
            Set<String> instances = ConcurrentHashMap.newKeySet();
            ec2.describeInstancesPaginator(r -> { }).reservations().forEach(res -> res.instances().forEach(i -> instances.add(i.instanceId())));
            for (String id : acknowledgedInstances) assertTrue(instances.contains(id), "acknowledged instance " + id + " lost");
            assertTrue(!acknowledgedInstances.isEmpty());
            System.out.println("kill -9 test: " + acknowledgedKeys.size() + " acknowledged key pairs (" + stored.size() + " stored), "
                    + acknowledgedInstances.size() + " acknowledged instances (" + instances.size() + " stored)");
        }
    }

    private static Ec2Client client(String endpoint, dev.flint.cloud.ec2.CloudCredentials c) {
        return Ec2Client.builder().endpointOverride(URI.create(endpoint)).region(Region.of("flint-local"))
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(c.accessKeyId(), c.secretAccessKey())))
                .httpClient(Apache5HttpClient.create())
                .overrideConfiguration(o -> o.retryStrategy(RetryMode.STANDARD).apiCallTimeout(Duration.ofSeconds(20)))
                .build();
    }

    private static String log(Path temp) {
        try {
            return Files.readString(temp.resolve("daemon.log"));
        } catch (Exception e) {
            return "(no log)";
        }
    }
}
