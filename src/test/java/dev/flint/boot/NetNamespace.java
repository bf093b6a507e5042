package dev.flint.boot;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A throw-away network namespace for tests that need host networking: everything a test creates (TAP
 * devices, addresses, servers) lives inside it and goes when it is deleted, so the host's own
 * interfaces are never touched. Needs root (or CAP_SYS_ADMIN) and iproute2.
 */
public final class NetNamespace implements AutoCloseable {
    private final String name;
    private final List<Process> started = new ArrayList<>();

    private NetNamespace(String name) { this.name = name; }

    /** Why namespaces cannot be made here, or null. */
    public static String unavailableReason() {
        try {
            Process p = new ProcessBuilder("ip", "netns", "list").redirectErrorStream(true).start();
            if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) return "'ip netns list' fails here";
        } catch (IOException e) {
            return "iproute2's ip is not installed";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
        if (!"root".equals(System.getProperty("user.name"))) return "creating network namespaces needs root";
        return null;
    }

    /** Creates {@code flint-test-RANDOM} with its loopback up. */
    public static NetNamespace create() throws IOException, InterruptedException {
        String name = "flint-test-" + Long.toHexString(ThreadLocalRandom.current().nextLong() & 0xFFFF_FFFFL);
        run(List.of("ip", "netns", "add", name));
        NetNamespace ns = new NetNamespace(name);
        ns.exec("ip", "link", "set", "lo", "up");
        return ns;
    }

    public String name() { return name; }

    /** The prefix that runs a command inside the namespace. */
    public List<String> wrapper() { return List.of("ip", "netns", "exec", name); }

    /** Runs a command inside the namespace to completion; its output, or an exception naming it. */
    public String exec(String... command) throws IOException, InterruptedException {
        List<String> full = new ArrayList<>(wrapper());
        full.addAll(List.of(command));
        return run(full);
    }

    /** Whether a command inside the namespace succeeds. */
    public boolean succeeds(String... command) throws IOException, InterruptedException {
        List<String> full = new ArrayList<>(wrapper());
        full.addAll(List.of(command));
        Process p = new ProcessBuilder(full).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
    }

    /** Starts a long-running command inside the namespace; it is killed when the namespace is closed. */
    public Process spawn(String... command) throws IOException {
        List<String> full = new ArrayList<>(wrapper());
        full.addAll(List.of(command));
        Process p = new ProcessBuilder(full).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        started.add(p);
        return p;
    }

    private static String run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + " failed: " + out.strip());
        }
        return out;
    }

    /** Kills what was spawned in it and deletes the namespace (and with it every interface inside). */
    @Override
    public void close() throws IOException, InterruptedException {
        for (Process p : started) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
        run(List.of("ip", "netns", "delete", name));
    }
}
