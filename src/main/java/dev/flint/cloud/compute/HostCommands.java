package dev.flint.cloud.compute;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the host tools the runtime needs ({@code ip}, {@code nft}) in the network namespace the instances
 * live in: the daemon's own (no prefix), or, for tests, one named with {@code ip netns exec NAME}.
 */
record HostCommands(List<String> prefix) {
    HostCommands {
        prefix = List.copyOf(prefix);
    }

    static HostCommands here() { return new HostCommands(List.of()); }

    /** The command line that runs {@code command} where the instances live. */
    List<String> wrap(List<String> command) {
        List<String> full = new ArrayList<>(prefix);
        full.addAll(command);
        return full;
    }

    /** Runs a command to completion; its output, or an IOException with the command and its last line. */
    String run(String... command) throws IOException {
        return runWithInput(null, command);
    }

    String runWithInput(String input, String... command) throws IOException {
        List<String> full = wrap(List.of(command));
        Process p = new ProcessBuilder(full).redirectErrorStream(true).start();
        try (OutputStream in = p.getOutputStream()) {
            if (input != null) in.write(input.getBytes(StandardCharsets.UTF_8));
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", command) + " did not finish within 60 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException(String.join(" ", command) + " was interrupted");
        }
        if (p.exitValue() != 0) {
            String last = out.strip().lines().reduce((a, b) -> b).orElse("no output");
            throw new IOException(String.join(" ", command) + " failed (exit " + p.exitValue() + "): " + last);
        }
        return out;
    }

    boolean succeeds(String... command) {
        try {
            run(command);
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
