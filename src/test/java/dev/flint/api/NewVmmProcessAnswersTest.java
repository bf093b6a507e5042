package dev.flint.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.testing.Await;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A fresh {@code flint vmm} process serves its API on the socket and logs when it became ready: what an
 * orchestrator waits for before its first request. How long that takes is measured by
 * {@code bench/api.sh} ("socket ready"), not asserted here.
 */
class NewVmmProcessAnswersTest {
    @Test
    void aNewProcessAnswersOnItsSocket() throws Exception {
        Path dir = Files.createTempDirectory("flint-ready");
        Path socket = dir.resolve("api.sock");
        Path stderr = dir.resolve("stderr.txt");
        String java = ProcessHandle.current().info().command().orElse("java");
        Process vmm = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                VmmProcessMain.class.getName(), "--api-sock", socket.toString())
                .redirectErrorStream(true).redirectOutput(stderr.toFile()).start();
        try {
            boolean accepting = Await.holdsWithin(Duration.ofMinutes(2), () -> {
                if (!vmm.isAlive()) return true;
                if (!Files.exists(socket)) return false;
                try (SocketChannel ignored = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
                    return true;
                } catch (java.io.IOException notYet) {
                    return false; // bound but not accepting yet
                }
            });
            assertTrue(accepting && vmm.isAlive(), "socket never came up: " + Files.readString(stderr));
            try (UnixSocketClient client = new UnixSocketClient(socket)) {
                assertEquals(200, client.get("/").status());
            }
            Await.until("flint logs that it is ready", () -> Files.readString(stderr).contains("ms after process start"));
        } finally {
            vmm.destroy();
            vmm.waitFor(10, TimeUnit.SECONDS);
        }
        String log = Files.readString(stderr);
        assertTrue(log.contains("ready") && log.contains("ms after process start"), log);
    }
}
