package dev.flint.guest;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Host commands the guest tests use to check Flint's output against the reference tools. */
final class HostTools {
    private HostTools() {}

    static boolean onPath(String tool) {
        for (String dir : System.getenv("PATH").split(":")) {
            if (Files.isExecutable(Path.of(dir, tool))) return true;
        }
        return false;
    }

    /** Installs a Debian package the test needs (the test machines are root; bin/test does this too). */
    static void aptInstall(String pkg) throws IOException, InterruptedException {
        new ProcessBuilder("apt-get", "install", "-y", "-q", pkg).inheritIO().start().waitFor();
    }

    /** Runs {@code command} in {@code dir} with {@code stdin} as input; returns its output lines, fails on error. */
    static List<String> run(Path dir, Path stdin, String... command) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true);
        if (stdin != null) pb.redirectInput(stdin.toFile());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) throw new IOException(String.join(" ", command) + " failed: " + out);
        return out.lines().toList();
    }
}
