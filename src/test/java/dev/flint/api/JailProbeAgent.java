package dev.flint.api;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * A Java agent the jailer test loads into the jailed Flint VMM itself ({@code -javaagent} through
 * {@code FLINT_JAVA_OPTS}): once the VMM has installed its own seccomp filter (the process then has two:
 * the jail's and the VMM's), it tries what a compromised VMM would (read a host file outside the chroot,
 * start a program, reach the host's network) and prints one {@code jail-probe:} line per try.
 *
 * <p>Agent arguments: {@code HOST_FILE,PORT}. The agent class is found on the jailed class path (the
 * jailer copies the test classes in with the rest); the agent jar holds only its manifest.
 */
public final class JailProbeAgent {
    private JailProbeAgent() {}

    public static void premain(String args) {
        Thread probe = new Thread(() -> probe(args), "jail-probe");
        probe.setDaemon(true);
        probe.start();
    }

    private static void probe(String args) {
        String[] parts = args.split(",");
        Path hostFile = Path.of(parts[0]);
        int port = Integer.parseInt(parts[1]);
        try {
            // Observed state, not a guess: the kernel counts the filters on this process.
            while (seccompFilters() < 2) Thread.sleep(10);
        } catch (Exception e) {
            report("wait", e);
            return;
        }
        attempt("open", () -> Files.readString(hostFile));
        attempt("exec", () -> new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-version")
                .start().waitFor());
        attempt("connect", () -> {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
                return "connected";
            }
        });
        System.err.println("jail-probe: done");
    }

    private static int seccompFilters() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("Seccomp_filters:")) return Integer.parseInt(line.substring(16).strip());
        }
        return 0;
    }

    private static void attempt(String what, Callable<Object> action) {
        try {
            System.err.println("jail-probe: " + what + " succeeded: " + action.call());
        } catch (Exception e) {
            report(what, e);
        }
    }

    private static void report(String what, Exception e) {
        System.err.println("jail-probe: " + what + " failed: " + e);
    }
}
