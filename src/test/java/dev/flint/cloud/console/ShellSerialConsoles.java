package dev.flint.cloud.console;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * Serial consoles for the console's tests: each session is a real {@code sh -i} on a pseudo-terminal
 * (util-linux {@code script}), so typing, echo and Enter (CR turned into NL by the tty) behave as on a
 * guest's serial line. Only instances the predicate calls running have a serial port.
 */
final class ShellSerialConsoles implements SerialConsoles, AutoCloseable {

    private final Predicate<String> running;
    private final List<Shell> open = new CopyOnWriteArrayList<>();

    ShellSerialConsoles(Predicate<String> running) {
        this.running = running;
    }

    int openSessions() {
        return (int) open.stream().filter(s -> s.process.isAlive()).count();
    }

    @Override
    public Optional<SerialSession> open(String instanceId, Consumer<byte[]> guestOutput) {
        if (!running.test(instanceId)) {
            return Optional.empty();
        }
        ProcessBuilder builder = new ProcessBuilder("script", "--quiet", "--flush", "--echo", "always",
                "--command", "sh -i", "/dev/null").redirectErrorStream(true);
        builder.environment().put("PS1", "fake-guest$ ");
        builder.environment().put("TERM", "xterm");
        builder.environment().put("SHELL", "/bin/sh");
        try {
            Shell shell = new Shell(builder.start(), guestOutput);
            open.add(shell);
            return Optional.of(shell);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        open.forEach(Shell::close);
    }

    private final class Shell implements SerialSession {
        final Process process;
        private final OutputStream keys;

        Shell(Process process, Consumer<byte[]> guestOutput) {
            this.process = process;
            this.keys = process.getOutputStream();
            Thread.ofVirtual().name("fake-serial-" + process.pid()).start(() -> {
                byte[] buffer = new byte[4096];
                try (InputStream in = process.getInputStream()) {
                    for (int n; (n = in.read(buffer)) > 0; ) {
                        guestOutput.accept(java.util.Arrays.copyOf(buffer, n));
                    }
                } catch (IOException e) {
                    // The shell ended or was closed: nothing more to forward.
                }
            });
        }

        @Override
        public void write(byte[] bytes) {
            try {
                keys.write(bytes);
                keys.flush();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public void close() {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
            open.remove(this);
        }
    }
}
