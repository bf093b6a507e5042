package dev.flint.cloud;

import dev.flint.cloud.actions.ActionRegistry;
import dev.flint.cloud.actions.CloudContext;
import dev.flint.cloud.actions.ImageActions;
import dev.flint.cloud.actions.InstanceActions;
import dev.flint.cloud.actions.InstanceTypeActions;
import dev.flint.cloud.actions.KeyPairActions;
import dev.flint.cloud.actions.RegionActions;
import dev.flint.cloud.actions.SnapshotActions;
import dev.flint.cloud.actions.SecurityGroupActions;
import dev.flint.cloud.actions.TagActions;
import dev.flint.cloud.actions.VolumeActions;
import dev.flint.cloud.compute.InstanceRuntime;
import dev.flint.cloud.compute.MetadataSource;
import dev.flint.cloud.console.ConsoleCredentials;
import dev.flint.cloud.console.ConsoleHandler;
import dev.flint.cloud.console.InstanceMetrics;
import dev.flint.cloud.console.SerialConsoles;
import dev.flint.cloud.console.SerialSession;
import dev.flint.cloud.console.Ec2Endpoint;
import dev.flint.cloud.ec2.CloudCredentials;
import dev.flint.cloud.ec2.Ec2Api;
import dev.flint.cloud.ec2.Ec2HttpServer;
import dev.flint.cloud.fleet.Firewall;
import dev.flint.cloud.fleet.Fleet;
import dev.flint.cloud.fleet.StoreMetadataSource;
import dev.flint.cloud.model.ImageRecord;
import dev.flint.cloud.store.CloudStore;
import dev.flint.cloud.store.Records;
import dev.flint.cloud.store.Stores;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * {@code flint cloud serve}: the EC2 control plane on one host. Starts in this order, so that nothing is
 * served before the records agree with the machines: data folder and credentials, store, instance runtime,
 * reconciliation (re-adopt surviving VMMs, settle the records of those that died), then the HTTP endpoint.
 */
public final class CloudDaemon implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(CloudDaemon.class.getName());

    /** How the daemon is run; {@code storeUri} null means the default SQLite file in the data folder. */
    public record Config(InetSocketAddress listen, Path dataDir, String storeUri, boolean trustLocal, String region, Duration stopTimeout,
            // Host cores the vCPU capacity is based on (times {@link Fleet#VCPU_OVERCOMMIT}); 0 = this machine's.
            int hostCpus) {
        public static final Duration DEFAULT_STOP_TIMEOUT = Duration.ofSeconds(60);

        public Config(InetSocketAddress listen, Path dataDir, String storeUri, boolean trustLocal, String region, Duration stopTimeout) {
            this(listen, dataDir, storeUri, trustLocal, region, stopTimeout, 0);
        }

        public String effectiveStoreUri() {
            return storeUri == null ? Stores.defaultUri(dataDir) : storeUri;
        }
    }

    /**
     * Makes the instance runtime once the daemon knows where it reports ({@code listener}) and what the
     * metadata service serves ({@code metadata}). The runtime lives in {@code runtimeDir}.
     */
    @FunctionalInterface
    public interface RuntimeFactory {
        InstanceRuntime create(InstanceRuntime.Listener listener, MetadataSource metadata, Path runtimeDir) throws IOException;
    }

    private final CloudStore store;
    private final InstanceRuntime runtime;
    private final ScheduledThreadPoolExecutor executor;
    private final Ec2HttpServer server;
    private final ImageActions images;
    private final CloudCredentials credentials;
    private final Config config;
    private final Ec2Api api;
    private final Fleet fleet;
    /** How long a terminated instance stays listed: EC2 says "about an hour". */
    static final Duration TERMINATED_RETENTION = Duration.ofHours(1);

    private CloudDaemon(Config config, CloudStore store, InstanceRuntime runtime, ScheduledThreadPoolExecutor executor,
            Ec2HttpServer server, ImageActions images, CloudCredentials credentials, Ec2Api api, Fleet fleet) {
        this.api = api;
        this.fleet = fleet;
        this.config = config;
        this.store = store;
        this.runtime = runtime;
        this.executor = executor;
        this.server = server;
        this.images = images;
        this.credentials = credentials;
    }

    public static CloudDaemon start(Config config, RuntimeFactory runtimes) throws IOException {
        Path data = config.dataDir();
        Files.createDirectories(data);
        Files.createDirectories(CloudPaths.images(data));
        Files.createDirectories(CloudPaths.volumes(data));
        Files.createDirectories(CloudPaths.runtime(data));
        CloudCredentials credentials = CloudCredentials.loadOrCreate(data);
        CloudStore store = Stores.open(config.effectiveStoreUri());
        ScheduledThreadPoolExecutor executor = new ScheduledThreadPoolExecutor(2, runnable -> {
            Thread thread = new Thread(runnable, "cloud-fleet");
            thread.setDaemon(true);
            return thread;
        });
        executor.setRemoveOnCancelPolicy(true);
        // On close, launches under way finish; pending stop timeouts are dropped (a later daemon settles those).
        executor.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        InstanceRuntime runtime = null;
        try {
            Records records = new Records(store);
            String zone = CloudContext.zoneOf(config.region());
            MetadataSource metadata = new StoreMetadataSource(records, config.region(), zone);
            ForwardingListener listener = new ForwardingListener();
            runtime = runtimes.create(listener, metadata, CloudPaths.runtime(data));
            Clock clock = Clock.systemUTC();
            Fleet fleet = new Fleet(records, runtime, CloudPaths.volumes(data), clock, config.stopTimeout(),
                    config.hostCpus() > 0 ? config.hostCpus() : Runtime.getRuntime().availableProcessors(), executor, zone);
            listener.target = fleet;
            // The packet filter is in place before any instance is (re)adopted or launched.
            Firewall firewall = new Firewall(records, runtime);
            firewall.ensureDefaultGroup();
            firewall.sync();
            fleet.onMembershipChange(firewall::sync);
            fleet.reconcile();
            ActionRegistry registry = new ActionRegistry();
            EndpointHolder endpoint = new EndpointHolder();
            CloudContext cloud = new CloudContext(records, fleet, runtime, CloudPaths.images(data), config.region(), zone,
                    CloudContext.DEFAULT_ACCOUNT, clock, () -> endpoint.value);
            ImageActions images = new ImageActions(cloud);
            new InstanceActions(cloud).register(registry);
            new InstanceTypeActions(cloud).register(registry);
            images.register(registry);
            new KeyPairActions(cloud).register(registry);
            new TagActions(cloud).register(registry);
            new RegionActions(cloud).register(registry);
            new VolumeActions(cloud).register(registry);
            SnapshotActions snapshots = new SnapshotActions(cloud);
            snapshots.settleInterrupted();
            snapshots.register(registry);
            new SecurityGroupActions(cloud, firewall).register(registry);
            Ec2Api api = new Ec2Api(registry, credentials, config.trustLocal(), clock);
            ConsoleHandler console = new ConsoleHandler(consoleEndpoint(api), consoles(runtime), metrics(runtime),
                    ConsoleCredentials.of(credentials.accessKeyId(), credentials.secretAccessKey()));
            Ec2HttpServer server = Ec2HttpServer.start(config.listen(), api, console);
            endpoint.value = server.endpoint();
            LOG.info("flint cloud: serving EC2 on " + server.endpoint() + ", store " + store.describe());
            executor.scheduleWithFixedDelay(() -> forgetTerminated(fleet, clock.instant()), 1, 1, TimeUnit.MINUTES);
            return new CloudDaemon(config, store, runtime, executor, server, images, credentials, api, fleet);
        } catch (IOException | RuntimeException e) {
            if (runtime != null) runtime.close();
            executor.shutdownNow();
            store.close();
            throw e;
        }
    }

    /** Forgets the instances terminated more than {@link #TERMINATED_RETENTION} before {@code now}; returns their ids. */
    List<String> forgetTerminated(Instant now) {
        return forgetTerminated(fleet, now);
    }

    private static List<String> forgetTerminated(Fleet fleet, Instant now) {
        try {
            List<String> gone = fleet.forgetTerminated(now, TERMINATED_RETENTION);
            if (!gone.isEmpty()) LOG.info("flint cloud: forgot terminated instances " + String.join(", ", gone));
            return gone;
        } catch (RuntimeException e) {
            // The store may be briefly unavailable; the next sweep tries again.
            LOG.log(java.util.logging.Level.WARNING, "flint cloud: forgetting terminated instances failed", e);
            return List.of();
        }
    }

    /** The endpoint is known only once the server is bound; DescribeRegions reads it when asked. */
    private static final class EndpointHolder {
        volatile String value;
    }

    /** Hands the runtime's reports to the fleet once it exists (the runtime is made first, since the fleet drives it). */
    private static final class ForwardingListener implements InstanceRuntime.Listener {
        volatile InstanceRuntime.Listener target;

        @Override
        public void booted(String instanceId) {
            InstanceRuntime.Listener t = target;
            if (t != null) t.booted(instanceId);
        }

        @Override
        public void exited(String instanceId, String detail) {
            InstanceRuntime.Listener t = target;
            if (t != null) t.exited(instanceId, detail);
        }

        @Override
        public void reset(String instanceId, String detail) {
            InstanceRuntime.Listener t = target;
            if (t != null) t.reset(instanceId, detail);
        }
    }

    /** Registers {@code file} as the image {@code name} unless one of that name exists; returns its id. */
    public String ensureImage(String name, String description, Path file) {
        return images.byName(name).map(ImageRecord::imageId)
                .orElseGet(() -> images.register(name, description, file, file.toString(), Map.of()).imageId());
    }

    public String endpoint() { return server.endpoint(); }

    /**
     * The EC2 handlers for the web console ({@code dev.flint.cloud.console.ConsoleHandler}), whose callers
     * authenticate with a session instead of SigV4: same actions, same XML.
     */
    public Ec2Endpoint consoleEc2Endpoint() {
        return consoleEndpoint(api);
    }

    private static Ec2Endpoint consoleEndpoint(Ec2Api api) {
        return form -> {
            Ec2Api.Answer answer = api.handlePreauthenticated(form);
            return new Ec2Endpoint.Ec2Reply(answer.status(), answer.body());
        };
    }

    /** The console's live terminal on an instance: the runtime's serial console attachment. */
    private static SerialConsoles consoles(InstanceRuntime runtime) {
        return (instanceId, guestOutput) -> runtime.attachConsole(instanceId, guestOutput).map(attachment -> new SerialSession() {
            @Override
            public void write(byte[] keys) { attachment.write(keys); }

            @Override
            public void close() { attachment.close(); }
        });
    }

    /** The console's plots: what the runtime samples of each instance's machine. */
    private static InstanceMetrics metrics(InstanceRuntime runtime) {
        return instanceId -> runtime.usage(instanceId).stream()
                .map(u -> new InstanceMetrics.Sample(u.epochMillis(), u.cpuPercent(), u.blockReadBytes(),
                        u.blockWriteBytes(), u.netRxBytes(), u.netTxBytes()))
                .toList();
    }

    /** The daemon's credentials as the console's sign-in accepts them. */
    public ConsoleCredentials consoleCredentials() {
        return ConsoleCredentials.of(credentials.accessKeyId(), credentials.secretAccessKey());
    }

    public InetSocketAddress address() { return server.address(); }

    public CloudCredentials credentials() { return credentials; }

    public Config config() { return config; }

    /** Stops serving. The VMMs keep running: a later daemon re-adopts them. */
    @Override
    public void close() {
        server.close();
        executor.shutdown();
        try {
            if (!executor.awaitTermination(30, TimeUnit.SECONDS)) executor.shutdownNow();
        } catch (InterruptedException e) {
            executor.shutdownNow();
            Thread.currentThread().interrupt();
        }
        runtime.close();
        store.close();
    }
}
