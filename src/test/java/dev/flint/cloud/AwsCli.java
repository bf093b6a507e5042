package dev.flint.cloud;

import dev.flint.boot.NetNamespace;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The real AWS CLI, run as a user runs it: inside the daemon's network namespace, with the environment
 * {@code eval "$(flint cloud env)"} gives. Each call returns its stdout or fails the test with stderr.
 */
final class AwsCli {
    record Result(int exitCode, String out, String err) {}

    private final NetNamespace ns;
    private final Map<String, String> env;

    AwsCli(NetNamespace ns, Map<String, String> env) {
        this.ns = ns;
        this.env = Map.copyOf(env);
    }

    /** Why the AWS CLI cannot run here, or null. */
    static String unavailableReason() {
        try {
            Process p = new ProcessBuilder("aws", "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0 ? null : "'aws --version' fails";
        } catch (IOException e) {
            return "the AWS CLI is not installed (bin/test installs Debian's awscli)";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
    }

    /** {@code aws ec2 ARGS... --output text}; fails the test unless it exits 0. */
    String ec2(String... args) throws IOException, InterruptedException {
        Result r = tryEc2(args);
        if (r.exitCode() != 0) {
            throw new AssertionError("aws ec2 " + String.join(" ", args) + " exited " + r.exitCode() + ": " + r.err());
        }
        return r.out().strip();
    }

    Result tryEc2(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(ns.wrapper());
        command.addAll(List.of("aws", "ec2"));
        command.addAll(List.of(args));
        command.addAll(List.of("--output", "text"));
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().putAll(env);
        Process p = pb.start();
        // Read stderr on its own thread so a chatty CLI cannot block on a full pipe.
        StringBuilder err = new StringBuilder();
        Thread errReader = Thread.ofPlatform().daemon().start(() -> {
            try {
                err.append(new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
            } catch (IOException ignored) {
                // process gone
            }
        });
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        // `aws ec2 wait` polls every 15 s up to 40 times: 10 minutes is its own limit.
        if (!p.waitFor(11, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("aws ec2 " + String.join(" ", args) + " did not end");
        }
        errReader.join(5_000);
        return new Result(p.exitValue(), out, err.toString());
    }
}
