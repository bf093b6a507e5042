package dev.flint.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/** The top-level {@code flint} command: global options, and usage if no subcommand is given. */
@Command(name = "flint", sortOptions = false,
        description = "Flint runs x86-64 virtual machines: on KVM where the host has hardware virtualization, "
                + "on its own software CPU everywhere else.",
        footer = {"", "Ctrl-A x ends an interactive session. Guest files are cached in $FLINT_CACHE, "
                + "$XDG_CACHE_HOME/flint or ~/.cache/flint."})
final class FlintCommand implements Callable<Integer> {
    private final CliContext context;
    private boolean debug;

    @Spec
    private CommandSpec spec;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
    private boolean help;

    FlintCommand(CliContext context) { this.context = context; }

    /** A setter, not a field: inherited by every subcommand, wherever it is given it lands here. */
    @Option(names = "--debug", scope = ScopeType.INHERIT,
            description = "Log details and show stack traces of errors.")
    void setDebug(boolean debug) {
        this.debug = debug;
        CliLogging.configure(context.err(), debug);
    }

    boolean debug() { return debug; }

    @Override
    public Integer call() {
        context.err().println("flint: no command given");
        spec.commandLine().usage(context.err());
        return Main.USAGE;
    }
}
