package dev.flint.cloud.store;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * A real single-member etcd (Debian's {@code etcd-server}) on free loopback ports in a temporary folder,
 * for the etcd store's tests. Ends with the test.
 */
final class EtcdProcess implements AutoCloseable {
    static final Path BINARY = findBinary();
    final Process process;
    final int clientPort;
    final Path log;

    private EtcdProcess(Process process, int clientPort, Path log) {
        this.process = process;
        this.clientPort = clientPort;
        this.log = log;
    }

    private static Path findBinary() {
        for (String candidate : List.of("/usr/bin/etcd", "/usr/local/bin/etcd")) {
            if (Files.isExecutable(Path.of(candidate))) return Path.of(candidate);
        }
        return null;
    }

    static boolean available() {
        return BINARY != null;
    }

    static EtcdProcess start(Path dir) throws IOException, InterruptedException {
        int client = freePort();
        int peer = freePort();
        Files.createDirectories(dir);
        Path log = dir.resolve("etcd.log");
        String peerUrl = "http://127.0.0.1:" + peer;
        String clientUrl = "http://127.0.0.1:" + client;
        Process process = new ProcessBuilder(BINARY.toString(), "--name", "flint-test", "--data-dir", dir.resolve("data").toString(),
                "--listen-client-urls", clientUrl, "--advertise-client-urls", clientUrl,
                "--listen-peer-urls", peerUrl, "--initial-advertise-peer-urls", peerUrl,
                "--initial-cluster", "flint-test=" + peerUrl, "--initial-cluster-state", "new")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        EtcdProcess etcd = new EtcdProcess(process, client, log);
        Instant deadline = Instant.now().plus(Duration.ofSeconds(60));
        while (true) {
            if (!process.isAlive()) throw new IOException("etcd exited: " + Files.readString(log));
            try (EtcdStore probe = EtcdStore.connect(etcd.endpoint(), "/probe/")) {
                return etcd;
            } catch (RuntimeException notYet) {
                if (Instant.now().isAfter(deadline)) {
                    etcd.close();
                    throw new IOException("etcd did not answer within 60 s: " + notYet.getMessage());
                }
                Thread.sleep(200);
            }
        }
    }

    String endpoint() {
        return "http://127.0.0.1:" + clientPort;
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) process.destroyForcibly().waitFor();
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
