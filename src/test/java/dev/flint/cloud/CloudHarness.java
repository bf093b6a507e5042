package dev.flint.cloud;

import dev.flint.cloud.actions.CloudContext;
import dev.flint.cloud.ec2.CloudCredentials;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.client.config.ClientOverrideConfiguration;
import software.amazon.awssdk.core.retry.RetryMode;
import software.amazon.awssdk.http.apache5.Apache5HttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.ec2.Ec2Client;

/** A daemon on 127.0.0.1 (port 0) over a fake runtime and a temporary data folder, and SDK clients for it. */
final class CloudHarness implements AutoCloseable {
    final Path dataDir;
    final CloudDaemon daemon;
    final FakeRuntime runtime;

    private CloudHarness(Path dataDir, CloudDaemon daemon, FakeRuntime runtime) {
        this.dataDir = dataDir;
        this.daemon = daemon;
        this.runtime = runtime;
    }

    static CloudHarness start(Path dataDir, long capacityMib, boolean trustLocal, List<String> survivors) throws IOException {
        return start(dataDir, capacityMib, trustLocal, survivors, null);
    }

    static CloudHarness start(Path dataDir, long capacityMib, boolean trustLocal, List<String> survivors, String storeUri) throws IOException {
        return start(dataDir, capacityMib, trustLocal, survivors, storeUri, 64);
    }

    static CloudHarness start(Path dataDir, long capacityMib, boolean trustLocal, List<String> survivors, String storeUri, int hostCpus)
            throws IOException {
        AtomicReference<FakeRuntime> made = new AtomicReference<>();
        CloudDaemon daemon = CloudDaemon.start(new CloudDaemon.Config(new InetSocketAddress("127.0.0.1", 0), dataDir, storeUri, trustLocal,
                CloudContext.DEFAULT_REGION, Duration.ofSeconds(2), hostCpus), (listener, metadata, runtimeDir) -> {
                    FakeRuntime fake = new FakeRuntime(listener, capacityMib, survivors);
                    made.set(fake);
                    return fake;
                });
        return new CloudHarness(dataDir, daemon, made.get());
    }

    Ec2Client client() {
        CloudCredentials c = daemon.credentials();
        return client(c.accessKeyId(), c.secretAccessKey());
    }

    Ec2Client client(String key, String secret) {
        return Ec2Client.builder()
                .endpointOverride(URI.create(daemon.endpoint()))
                .region(Region.of(CloudContext.DEFAULT_REGION))
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(key, secret)))
                .httpClient(Apache5HttpClient.create())
                .overrideConfiguration(ClientOverrideConfiguration.builder().retryStrategy(RetryMode.STANDARD)
                        .apiCallTimeout(Duration.ofSeconds(60)).build())
                .build();
    }

    /** An ext4 image made with mke2fs (8 MiB, empty). */
    static Path ext4Image(Path dir, String name) throws IOException, InterruptedException {
        Path image = dir.resolve(name);
        Process p = new ProcessBuilder("mke2fs", "-q", "-F", "-t", "ext4", image.toString(), "8M").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) throw new IOException("mke2fs failed: " + out);
        return image;
    }

    static void await(String what, Duration timeout, BooleanSupplier condition) throws InterruptedException {
        dev.flint.testing.Await.until(what, timeout, condition::getAsBoolean);
    }

    @Override
    public void close() {
        daemon.close();
    }

    static boolean exists(Path p) {
        return Files.exists(p);
    }
}
