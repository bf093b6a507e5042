package dev.flint.cli;

import dev.flint.vmm.Engines;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * The workload bin/flint records the JDK's ahead-of-time cache from ({@code -XX:AOTCacheOutput}, JEP
 * 483/514/515): what a start-up does, so that later starts find those classes already loaded and linked
 * and the hot methods' profiles ready. It prints usage, refuses a bad option, and serves the API of a
 * {@code flint vmm} on a temporary socket through the requests an orchestrator sends before a boot (and a
 * few a careless client sends). Nothing boots: an engine's classes are the engine's start-up, not the
 * socket's. Ends with {@code System.exit}, as a killed {@code flint vmm} would.
 *
 * <p>bin/flint makes three caches: {@code vmm} (the API alone) and {@code usage} (the top-level usage alone)
 * for flint-vmm.jar, which {@code flint vmm} and {@code flint --help} run from, and {@code cli} (usage) for
 * every other command; each mapped class costs start-up time whether it is used or not. With no argument it
 * does all of it.
 */
public final class StartupTraining {
    private StartupTraining() {}

    /** The requests sent, raw, each on its own connection (as curl does). */
    private static final List<String> REQUESTS = List.of(
            get("/"), get("/version"), get("/machine-config"), get("/vm/config"),
            put("/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 128}"),
            patch("/machine-config", "{\"vcpu_count\": 2}"),
            put("/boot-source", "{\"kernel_image_path\": \"/nonexistent/vmlinuz\", \"boot_args\": \"console=ttyS0\"}"),
            put("/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/nonexistent\", \"is_root_device\": true, \"is_read_only\": false}"),
            put("/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap-none\", \"guest_mac\": \"06:00:00:00:00:01\"}"),
            put("/mmds/config", "{\"version\": \"V2\", \"network_interfaces\": [\"eth0\"]}"),
            put("/mmds", "{\"latest\": {\"meta-data\": {\"instance-id\": \"i-1\"}}}"),
            get("/mmds"),
            put("/actions", "{\"action_type\": \"FlushMetrics\"}"),
            put("/machine-config", "{\"vcpu_count\": \"one\"}"),
            put("/machine-config", "{not json"),
            get("/no/such/path"),
            "PUT // HTTP/1.1\r\nHost: localhost\r\n\r\n",
            "GARBAGE\r\n\r\n",
            get("/"));

    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("flint-aot-training");
        try {
            String only = args.length > 0 ? args[0] : "";
            train(dir, only);
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
            }
        }
        System.exit(0);
    }

    /**
     * @param only {@code usage}: print the top-level usage; {@code cli}: that, and a command's usage and a
     *             refused option (what every command line does first); {@code vmm}: serve the API of a
     *             {@code flint vmm}; anything else: all of it
     */
    private static void train(Path dir, String only) throws Exception {
        PrintStream sink = new PrintStream(OutputStream.nullOutputStream(), true);
        // No engines: nothing boots here, and the API's pre-boot requests must not warm one up (Vmm.warmUp) on a
        // host with a usable KVM, or the cache would hold that engine's classes on some hosts and not others.
        CliContext context = new CliContext(InputStream.nullInputStream(), sink, sink, () -> false, new Engines(List.of()),
                dir.resolve("cache"));
        if (!only.equals("vmm")) Main.run(new String[] {"--help"}, context);
        if (only.equals("usage")) return;
        if (!only.equals("vmm")) {
            Main.run(new String[] {"vmm", "--help"}, context);
            Main.run(new String[] {"run", "--help"}, context);
            Main.run(new String[] {"run", "--no-such-option"}, context);
        }

        if (only.equals("cli")) return;
        Path socket = dir.resolve("api.sock");
        Thread.ofPlatform().daemon().name("training-vmm")
                .start(() -> Main.run(new String[] {"vmm", "--api-sock", socket.toString()}, context));
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (!answers(socket)) {
            if (System.nanoTime() > deadline) throw new IOException("the training VMM never answered on " + socket);
            Thread.sleep(5);
        }
        for (int round = 0; round < 3; round++) {
            for (String request : REQUESTS) exchange(socket, request);
        }
    }

    private static boolean answers(Path socket) {
        if (!Files.exists(socket)) return false;
        try {
            return exchange(socket, get("/")).startsWith("HTTP/1.1 200");
        } catch (IOException notYet) {
            return false;
        }
    }

    /** Sends one request and reads until the server closes or a whole answer came (bounded either way). */
    private static String exchange(Path socket, String request) throws IOException {
        try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            channel.write(ByteBuffer.wrap(request.getBytes(StandardCharsets.UTF_8)));
            channel.shutdownOutput();
            ByteBuffer answer = ByteBuffer.allocate(65536);
            while (answer.hasRemaining() && channel.read(answer) > 0) {
                // read until the server closes the connection
            }
            return new String(answer.array(), 0, answer.position(), StandardCharsets.UTF_8);
        }
    }

    private static String get(String path) {
        return "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    }

    private static String put(String path, String body) { return withBody("PUT", path, body); }

    private static String patch(String path, String body) { return withBody("PATCH", path, body); }

    private static String withBody(String method, String path, String body) {
        return method + " " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body;
    }
}
