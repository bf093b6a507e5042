package dev.flint.boot;

import dev.flint.testing.Await;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * {@code flint} as a user runs it: a separate JVM with the CLI's main class, its console on pipes. Tests
 * type into its stdin and wait for what the guest prints on stdout, the way a person at the terminal would.
 */
public final class FlintProcess implements AutoCloseable {
    private final Process process;
    private final StringBuffer output = new StringBuffer();
    private final Thread reader;

    private FlintProcess(Process process) {
        this.process = process;
        this.reader = Thread.ofPlatform().daemon().name("flint-stdout").start(() -> pump(process.getInputStream()));
    }

    /** Starts {@code flint ARGS...} with stderr merged into the captured output. */
    public static FlintProcess start(String... args) throws IOException {
        return startUnder(List.of(), args);
    }

    /**
     * Starts {@code flint ARGS...} under a wrapper command, e.g. {@code ip netns exec NS} to run it in a
     * network namespace. JVM options in {@code FLINT_JAVA_OPTS} are passed on, as bin/flint does (the
     * nested harness sets a JIT option there).
     */
    public static FlintProcess startUnder(List<String> wrapper, String... args) throws IOException {
        return startWith(java.util.Map.of(), wrapper, args);
    }

    /** Like {@link #startUnder} with {@code environment} added to the inherited environment. */
    public static FlintProcess startWith(java.util.Map<String, String> environment, List<String> wrapper, String... args)
            throws IOException {
        List<String> command = new ArrayList<>(wrapper);
        command.addAll(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-Djdk.nio.maxCachedBufferSize=262144"));
        // The heap cap bin/flint gives the commands that run a guest (its mem_opts): the suite's guests run under
        // it too, so a VMM that outgrows it fails here rather than in a user's hands.
        if (args.length > 0 && (args[0].equals("run") || args[0].equals("vmm"))) command.add("-Xmx116m");
        String options = System.getenv("FLINT_JAVA_OPTS");
        if (options != null && !options.isBlank()) command.addAll(List.of(options.strip().split("\\s+")));
        command.addAll(List.of(
                "-cp", System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")),
                "dev.flint.cli.Main"));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().putAll(environment);
        return new FlintProcess(builder.start());
    }

    private void pump(InputStream in) {
        byte[] buf = new byte[4096];
        try {
            for (int n; (n = in.read(buf)) > 0; ) {
                String s = new String(buf, 0, n, StandardCharsets.UTF_8);
                output.append(s);
                System.out.print(s); // visible in the Surefire report when a boot fails
            }
        } catch (IOException e) {
            // the process ended
        }
    }

    public String output() { return output.toString(); }

    public boolean isAlive() { return process.isAlive(); }

    /** The process id of flint's JVM (for reading its /proc entries). */
    public long pid() { return process.pid(); }

    /** Waits until the output contains {@code text}; fails with the whole console if it does not in time. */
    public void await(String text, Duration timeout) throws InterruptedException {
        boolean seen = Await.holdsWithin(timeout, () -> {
            if (output.toString().contains(text)) return true;
            if (!process.isAlive() && !reader.isAlive() && !output.toString().contains(text)) {
                throw new AssertionError("flint exited (" + process.exitValue() + ") before printing '" + text
                        + "':\n" + output);
            }
            return false;
        });
        if (!seen) throw new AssertionError("no '" + text + "' within " + timeout + ":\n" + output);
    }

    /** Types {@code line} and Enter on the guest's console. */
    public void type(String line) throws IOException {
        OutputStream in = process.getOutputStream();
        in.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        in.flush();
    }

    /** Closes stdin (the console reaches end of input, as with {@code </dev/null}). */
    public FlintProcess noInput() throws IOException {
        process.getOutputStream().close();
        return this;
    }

    /** Waits for flint to end and returns its exit code; fails if it is still running after {@code timeout}. */
    public int exitCode(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError("flint still running after " + timeout + ":\n" + output);
        }
        reader.join(5_000);
        return process.exitValue();
    }

    /** SIGKILL, as {@code kill -9} would: no shutdown hooks, no flushing; returns when the process is gone. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    @Override
    public void close() {
        process.destroyForcibly();
    }
}
