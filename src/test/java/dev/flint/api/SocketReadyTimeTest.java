package dev.flint.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How long a fresh {@code flint vmm} process takes until its API answers: what an orchestrator waits
 * for before its first request. Logged so the number is visible in the test output.
 */
class SocketReadyTimeTest {
    private static final Logger LOG = Logger.getLogger(SocketReadyTimeTest.class.getName());

    @Test
    void aNewProcessAnswersOnItsSocketQuickly() throws Exception {
        Path dir = Files.createTempDirectory("flint-ready");
        Path socket = dir.resolve("api.sock");
        String java = ProcessHandle.current().info().command().orElse("java");
        long spawned = System.nanoTime();
        Process vmm = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                VmmProcessMain.class.getName(), "--api-sock", socket.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("stderr.txt").toFile()).start();
        try {
            long connected = -1;
            while (System.nanoTime() - spawned < TimeUnit.SECONDS.toNanos(30) && vmm.isAlive()) {
                if (Files.exists(socket)) {
                    try (SocketChannel ignored = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
                        connected = System.nanoTime();
                        break;
                    } catch (java.io.IOException notYet) {
                        // bound but not accepting yet
                    }
                }
                Thread.sleep(2);
            }
            assertTrue(connected > 0, "socket never came up: " + Files.readString(dir.resolve("stderr.txt")));
            try (UnixSocketClient client = new UnixSocketClient(socket)) {
                assertEquals(200, client.get("/").status());
            }
            long answeredMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - spawned);
            long readyMs = TimeUnit.NANOSECONDS.toMillis(connected - spawned);
            LOG.info("flint vmm: socket accepting " + readyMs + " ms after spawn, first answer " + answeredMs + " ms");
            // Generous bound for 2 shared cores; the point is to notice a regression by an order of magnitude.
            assertTrue(readyMs < 15_000, "socket took " + readyMs + " ms");
        } finally {
            vmm.destroy();
            vmm.waitFor(10, TimeUnit.SECONDS);
        }
        String log = Files.readString(dir.resolve("stderr.txt"));
        assertTrue(log.contains("ready") && log.contains("ms after process start"), log);
        LOG.info("flint vmm's own measure: " + log.lines().filter(l -> l.contains("ms after process start")).findFirst().orElse(""));
    }
}
