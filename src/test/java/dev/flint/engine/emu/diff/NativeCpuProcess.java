package dev.flint.engine.emu.diff;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The test JVM's handle on a {@link NativeCpuServer} child: starts it with the same java and class
 * path, sends one sequence at a time and reads the result. If the child dies (a generator bug made the
 * host fault), {@link #run} throws {@link NativeCrash} and the next call starts a fresh child.
 */
public final class NativeCpuProcess implements AutoCloseable {
    /** The host CPU faulted on a sequence: a bug in the generator, never in the software CPU. */
    public static final class NativeCrash extends Exception {
        NativeCrash(String message) {
            super(message);
        }
    }

    private Process process;
    private DataInputStream in;
    private DataOutputStream out;
    private Path stderr;
    private final Layout layout;

    public NativeCpuProcess(Layout layout) {
        this.layout = layout;
    }

    public Layout layout() {
        return layout;
    }

    public CpuState run(byte[] sequence, CpuState initial) throws IOException, NativeCrash {
        ensureStarted();
        try {
            out.writeInt(sequence.length);
            out.write(sequence);
            initial.write(out);
            out.flush();
            return CpuState.read(in);
        } catch (IOException e) {
            String why = diagnose();
            destroy();
            throw new NativeCrash("native child died running the sequence: " + why);
        }
    }

    private void ensureStarted() throws IOException {
        if (process != null) {
            return;
        }
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        stderr = Files.createTempFile("flint-native-cpu", ".log");
        process = new ProcessBuilder(List.of(java, "--enable-native-access=ALL-UNNAMED",
                "-Xmx64m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData",
                "-cp", System.getProperty("java.class.path"), NativeCpuServer.class.getName(),
                Long.toHexString(layout.sequenceStart()), Long.toHexString(layout.data()), Long.toHexString(layout.stackTop())))
                .redirectError(stderr.toFile())
                .start();
        in = new DataInputStream(new BufferedInputStream(process.getInputStream(), 1 << 16));
        out = new DataOutputStream(new BufferedOutputStream(process.getOutputStream(), 1 << 16));
        try {
            in.readLong();
        } catch (IOException e) {
            String why = diagnose();
            destroy();
            throw new IOException("native child did not start: " + why, e);
        }
    }

    private String diagnose() {
        try {
            if (process.waitFor(5, TimeUnit.SECONDS)) {
                String log = Files.readString(stderr);
                int cut = Math.min(log.length(), 2000);
                return "exit " + process.exitValue() + (log.isBlank() ? "" : ", stderr: " + log.substring(0, cut));
            }
            return "child still running but its pipe broke";
        } catch (IOException | InterruptedException e) {
            return e.toString();
        }
    }

    private void destroy() {
        if (process != null) {
            process.destroyForcibly();
            process = null;
        }
    }

    @Override
    public void close() {
        if (process == null) {
            return;
        }
        try {
            out.writeInt(-1);
            out.flush();
            process.waitFor(5, TimeUnit.SECONDS);
        } catch (IOException | InterruptedException e) {
            // the child is going away either way
        }
        destroy();
        try {
            Files.deleteIfExists(stderr);
        } catch (IOException e) {
            // a stray temp file is harmless
        }
    }
}
