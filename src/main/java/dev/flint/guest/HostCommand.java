package dev.flint.guest;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Runs a host tool (apt-get, dpkg-deb) and turns its failure into one line for the user. */
final class HostCommand {
    private HostCommand() {}

    /**
     * Runs {@code command} in {@code dir}; its output lines go to {@code progress} (null: kept only for the
     * error message). Returns the output; throws {@link GuestFetchException} on a non-zero exit.
     */
    static List<String> run(Path dir, PrintStream progress, String... command) {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        if (dir != null) pb.directory(dir.toFile());
        pb.environment().put("LC_ALL", "C");
        pb.environment().put("DEBIAN_FRONTEND", "noninteractive");
        List<String> lines = new ArrayList<>();
        int exit;
        try {
            Process p = pb.start();
            p.getOutputStream().close();
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    lines.add(line);
                    if (progress != null) progress.println("  " + line);
                }
            }
            exit = p.waitFor();
        } catch (IOException e) {
            throw new GuestFetchException("cannot run " + command[0] + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new GuestFetchException(command[0] + " was interrupted", e);
        }
        if (exit != 0) {
            String last = lines.isEmpty() ? "no output" : lines.getLast();
            throw new GuestFetchException(String.join(" ", command) + " failed (exit " + exit + "): " + last);
        }
        return lines;
    }
}
