package dev.flint.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Runs {@link TerminalProbe} on a pseudo-terminal made by script(1) and checks the settings it saw. */
class TerminalModeTest {
    private static Map<String, String> probe(String... after) throws Exception {
        String java = ProcessHandle.current().info().command().orElseThrow();
        String command = java + " -cp " + System.getProperty("java.class.path") + " dev.flint.cli.TerminalProbe "
                + String.join(" ", after);
        Process p = new ProcessBuilder("script", "-qec", command + "; echo final $(stty -g)", "/dev/null")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        Map<String, String> seen = new HashMap<>();
        for (String line : out.split("\r?\n")) {
            String[] parts = line.strip().split(" ", 2);
            if (parts.length == 2) seen.put(parts[0], parts[1]);
        }
        return seen;
    }

    @Test
    void rawModeIsEnteredAndRestoredOnClose() throws Exception {
        Map<String, String> seen = probe();
        assertNotEquals(seen.get("before"), seen.get("during"), seen.toString());
        assertEquals(seen.get("before"), seen.get("after"), seen.toString());
        assertEquals(seen.get("before"), seen.get("final"), seen.toString());
    }

    @Test
    void rawModeIsRestoredWhenTheJvmExitsWithoutClosing() throws Exception {
        Map<String, String> seen = probe("exit");
        assertNotEquals(seen.get("before"), seen.get("during"), seen.toString());
        assertEquals(seen.get("before"), seen.get("final"), seen.toString());
    }

    @Test
    void surefireStdinIsNotATerminal() {
        assertFalse(TerminalMode.stdinIsTerminal());
    }
}
