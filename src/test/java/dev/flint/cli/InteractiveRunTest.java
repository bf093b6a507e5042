package dev.flint.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.guest.GuestAssets;
import dev.flint.testing.Await;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * An interactive {@code flint run} on a pseudo-terminal: keys reach the guest unprocessed (raw mode, so
 * Ctrl-C is just a byte), Ctrl-A x ends the VM with exit 0, and the terminal is restored.
 */
class InteractiveRunTest {
    @Test
    void keysGoToTheGuestAndCtrlAxEndsTheSession() throws Exception {
        String kernel = GuestAssets.open(GuestAssets.defaultCacheDir()).fetch(System.err).kernel().toString();
        String java = ProcessHandle.current().info().command().orElseThrow();
        String command = java + " -cp " + System.getProperty("java.class.path") + " dev.flint.cli.InteractiveProbe " + kernel;
        // Keys: "a", Ctrl-C, Ctrl-A Ctrl-A (a literal Ctrl-A), then Ctrl-A x.
        Process p = new ProcessBuilder("script", "-qec", command, "/dev/null").redirectErrorStream(true).start();
        StringBuffer output = new StringBuffer();
        Thread reader = Thread.ofPlatform().start(() -> {
            try (var in = p.getInputStream()) {
                for (int b; (b = in.read()) >= 0; ) output.append((char) b);
            } catch (IOException e) {
                output.append("\nread failed: ").append(e);
            }
        });
        // The guest says "ready" once the VM runs, i.e. after the terminal went raw.
        Await.holdsWithin(Duration.ofSeconds(60), () -> output.indexOf("ready") >= 0 || !p.isAlive());
        var keys = p.getOutputStream();
        keys.write(new byte[] {'a', 0x03, 0x01, 0x01});
        keys.flush();
        Await.holdsWithin(Duration.ofSeconds(60), () -> output.indexOf("[\u0001]") >= 0 || !p.isAlive());
        keys.write(new byte[] {0x01, 'x'});
        keys.flush();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("Ctrl-A x did not end the session: " + output);
        }
        reader.join();
        String out = output.toString();
        Map<String, String> seen = new HashMap<>();
        for (String line : out.split("\r?\n")) {
            String[] parts = line.strip().split(" ", 2);
            if (parts.length == 2) seen.put(parts[0], parts[1]);
        }
        assertTrue(out.contains("[a][\u0003][\u0001]"), "guest saw the raw keys: " + out);
        assertEquals("0", seen.get("exit"), out);
        assertEquals(seen.get("before"), seen.get("after"), out);
    }
}
