package dev.flint.cli;

import dev.flint.cloud.CloudDaemon;
import dev.flint.cloud.CloudPaths;
import dev.flint.cloud.HostRuntime;
import dev.flint.cloud.actions.CloudContext;
import dev.flint.cloud.ec2.CloudCredentials;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code flint cloud ...}: the EC2-compatible control plane. */
@Command(name = "cloud", description = "An EC2-compatible control plane: the AWS CLI and SDKs launch Flint instances.")
final class CloudCommand extends CommandGroup {
    static final String DEFAULT_LISTEN = "127.0.0.1:8773";
    /** Written by serve into the data folder, read by env: where the daemon actually listens. */
    static final String ENDPOINT_FILE = "endpoint";

    @Command(name = "serve", description = {
            "Serve the EC2 Query API (Version 2016-11-15) until interrupted. Requests must be signed (SigV4) with "
                    + "the credentials made on first start ('flint cloud env' prints them).",
            "Instances (Flint VMMs) outlive the daemon; a restarted daemon re-adopts them."})
    static final class Serve implements Callable<Integer> {
        private final CliContext context;

        @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
        private boolean help;

        @Option(names = "--listen", paramLabel = "ADDR:PORT", defaultValue = DEFAULT_LISTEN,
                description = "Where to serve HTTP (default: ${DEFAULT-VALUE}).")
        private String listen;

        @Option(names = "--data", paramLabel = "DIR",
                description = "State folder (default: $FLINT_CLOUD_DATA, else $XDG_DATA_HOME/flint/cloud, else ~/.local/share/flint/cloud).")
        private Path data;

        @Option(names = "--store", paramLabel = "URI",
                description = "sqlite:PATH (default: sqlite:DATA/cloud.db) or etcd://HOST:PORT[/PREFIX].")
        private String store;

        @Option(names = "--trust-local",
                description = "Accept unsigned requests from loopback addresses (e.g. aws --no-sign-request). Signed requests are always checked.")
        private boolean trustLocal;

        Serve(CliContext context) { this.context = context; }

        @Override
        public Integer call() throws IOException, InterruptedException {
            InetSocketAddress address = parseListen(listen);
            if (address == null) {
                context.err().println("flint: --listen must be ADDR:PORT (e.g. " + DEFAULT_LISTEN + "), got '" + listen + "'");
                return Main.USAGE;
            }
            Path dataDir = data != null ? data : CloudPaths.defaultDataDir(System.getenv());
            CloudDaemon.Config config = new CloudDaemon.Config(address, dataDir, store, trustLocal, CloudContext.DEFAULT_REGION,
                    CloudDaemon.Config.DEFAULT_STOP_TIMEOUT);
            CloudDaemon daemon;
            try {
                daemon = CloudDaemon.start(config, HostRuntime.factory());
            } catch (IllegalArgumentException e) {
                context.err().println("flint: " + e.getMessage());
                return Main.USAGE;
            }
            CountDownLatch stopped = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                daemon.close();
                stopped.countDown();
            }, "cloud-shutdown"));
            Path image = HostRuntime.defaultImage(context.err());
            context.err().println("image   debian-12 = " + daemon.ensureImage("debian-12", "Debian 12 (Flint's cloud image)", image));
            Files.writeString(dataDir.resolve(ENDPOINT_FILE), daemon.endpoint() + "\n", StandardCharsets.UTF_8);
            context.err().println("flint cloud: serving EC2 on " + daemon.endpoint() + " (data " + dataDir + ")");
            context.err().println("flint cloud: eval \"$(bin/flint cloud env" + (data != null ? " --data " + dataDir : "") + ")\" to point the AWS CLI here");
            stopped.await();
            return Main.OK;
        }
    }

    @Command(name = "image", description = {
            "Build the default debian-12 image into the guest cache now (what the first 'serve' would do), and print its path.",
            "It needs the network to Debian's archive: run it where that is reachable when 'serve' will run where it is not."})
    static final class Image implements Callable<Integer> {
        private final CliContext context;

        @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
        private boolean help;

        Image(CliContext context) {
            this.context = context;
        }

        @Override
        public Integer call() {
            context.out().println(HostRuntime.defaultImage(context.err()));
            return Main.OK;
        }
    }

    @Command(name = "env", description = {
            "Print export lines (access key, secret key, region, AWS_ENDPOINT_URL_EC2) for a shell:",
            "  eval \"$(flint cloud env)\"; aws ec2 describe-regions"})
    static final class Env implements Callable<Integer> {
        private final CliContext context;

        @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
        private boolean help;

        @Option(names = "--data", paramLabel = "DIR", description = "State folder of the daemon (default as for serve).")
        private Path data;

        Env(CliContext context) { this.context = context; }

        @Override
        public Integer call() throws IOException {
            Path dataDir = data != null ? data : CloudPaths.defaultDataDir(System.getenv());
            // The daemon's own: made here if `env` runs first (as in `serve & eval "$(flint cloud env)"`).
            CloudCredentials credentials = CloudCredentials.loadOrCreate(dataDir);
            Path endpointFile = dataDir.resolve(ENDPOINT_FILE);
            String endpoint = Files.exists(endpointFile) ? Files.readString(endpointFile, StandardCharsets.UTF_8).strip()
                    : "http://" + DEFAULT_LISTEN;
            context.out().println("export AWS_ACCESS_KEY_ID='" + credentials.accessKeyId() + "'");
            context.out().println("export AWS_SECRET_ACCESS_KEY='" + credentials.secretAccessKey() + "'");
            context.out().println("export AWS_DEFAULT_REGION='" + CloudContext.DEFAULT_REGION + "'");
            context.out().println("export AWS_ENDPOINT_URL_EC2='" + endpoint + "'");
            return Main.OK;
        }
    }

    /** {@code ADDR:PORT} (IPv6 as {@code [ADDR]:PORT}), or null if it is not one. */
    static InetSocketAddress parseListen(String text) {
        int colon = text.lastIndexOf(':');
        if (colon <= 0) return null;
        String host = text.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
        int port;
        try {
            port = Integer.parseInt(text.substring(colon + 1));
        } catch (NumberFormatException e) {
            return null;
        }
        if (port < 0 || port > 65535) return null;
        try {
            return new InetSocketAddress(InetAddress.getByName(host), port);
        } catch (UnknownHostException e) {
            return null;
        }
    }
}
