package dev.flint.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * Run by {@link TerminalModeTest} under script(1), i.e. with a pseudo-terminal on stdin: prints the
 * terminal settings before, during and after raw mode. With argument "exit" it leaves through
 * System.exit while still raw, to show the shutdown hook restores the terminal.
 */
public final class TerminalProbe {
    public static void main(String[] args) throws Exception {
        System.out.println("before " + settings());
        TerminalMode raw = TerminalMode.enterRaw();
        System.out.println("during " + settings());
        if (args.length > 0 && args[0].equals("exit")) System.exit(3);
        raw.close();
        System.out.println("after " + settings());
    }

    private static String settings() throws IOException, InterruptedException {
        Process p = new ProcessBuilder("stty", "-g").redirectInput(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        p.waitFor();
        return out;
    }
}
