package dev.flint.cli;

import dev.flint.guest.GuestAssets;
import dev.flint.vmm.Engines;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/** Runs the flint command line in-process against given engines and captures what it prints. */
final class CliRunner {
    record Result(int exitCode, String stdout, String stderr) {
        List<String> stderrLines() { return stderr.lines().toList(); }
    }

    private final Engines engines;
    private final Path cacheDir;
    private byte[] stdin = new byte[0];

    CliRunner(Engines engines) { this(engines, GuestAssets.defaultCacheDir()); }

    CliRunner(Engines engines, Path cacheDir) {
        this.engines = engines;
        this.cacheDir = cacheDir;
    }

    CliRunner stdin(String text) {
        stdin = text.getBytes(StandardCharsets.UTF_8);
        return this;
    }

    Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        CliContext context = new CliContext(new ByteArrayInputStream(stdin), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), () -> false, engines, cacheDir);
        int code = Main.run(args, context);
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }
}
