package dev.flint.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Puts the terminal on stdin into raw mode for an interactive guest console (every key goes to the guest,
 * Ctrl-C included; the guest echoes) and puts it back on every way out: {@link #close}, or a shutdown hook
 * if the JVM ends another way (SIGTERM, System.exit). Uses the host's stty on the inherited stdin.
 */
final class TerminalMode implements AutoCloseable {
    private final String saved;
    private final Thread restoreOnExit;
    private boolean restored;

    private TerminalMode(String saved) {
        this.saved = saved;
        this.restoreOnExit = new Thread(this::restore, "flint-terminal-restore");
    }

    /** True if stdin is a terminal: {@code stty -g} only succeeds on one. */
    static boolean stdinIsTerminal() {
        return stty("-g") != null;
    }

    /** Switches stdin's terminal to raw mode; null if stdin is not a terminal or stty is missing. */
    static TerminalMode enterRaw() {
        String saved = stty("-g");
        if (saved == null) return null;
        TerminalMode mode = new TerminalMode(saved.strip());
        Runtime.getRuntime().addShutdownHook(mode.restoreOnExit);
        stty("raw", "-echo");
        return mode;
    }

    private synchronized void restore() {
        if (restored) return;
        restored = true;
        stty(saved);
    }

    @Override
    public void close() {
        restore();
        try {
            Runtime.getRuntime().removeShutdownHook(restoreOnExit);
        } catch (IllegalStateException shuttingDown) {
            // The hook is running or ran; restoring twice is prevented above.
        }
    }

    /** Runs stty on the process's own stdin; its output, or null if it failed. */
    private static String stty(String... args) {
        try {
            Process p = new ProcessBuilder(concat(args)).redirectInput(ProcessBuilder.Redirect.INHERIT)
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            return p.waitFor() == 0 ? out : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    private static List<String> concat(String... args) {
        String[] all = new String[args.length + 1];
        all[0] = "stty";
        System.arraycopy(args, 0, all, 1, args.length);
        return List.of(all);
    }
}
