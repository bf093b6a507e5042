package dev.flint.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.ISetter;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ScopeType;

/**
 * The top-level {@code flint} command: global options, and usage if no subcommand is given. Its model is built
 * in code ({@link #spec()}) rather than read from annotations, like {@code flint vmm}'s: {@code flint vmm}
 * then starts without reading any picocli annotation (docs/startup.md).
 */
final class FlintCommand implements Callable<Integer> {
    private final CliContext context;
    private final CommandSpec spec;
    private boolean debug;

    FlintCommand(CliContext context) {
        this.context = context;
        spec = CommandSpec.wrapWithoutInspection(this);
        spec.name("flint");
        spec.usageMessage().sortOptions(false)
                .description("Flint runs x86-64 virtual machines: on KVM where the host has hardware virtualization, "
                        + "on its own software CPU everywhere else.")
                .footer("", "Ctrl-A x ends an interactive session. Guest files are cached in $FLINT_CACHE, "
                        + "$XDG_CACHE_HOME/flint or ~/.cache/flint.");
        spec.addOption(OptionSpec.builder("-h", "--help").type(boolean.class).initialValue(false).usageHelp(true)
                .description("Show this help and exit.").build());
        // A setter, not a value: inherited by every subcommand (which shares it), wherever it is given it lands here.
        spec.addOption(OptionSpec.builder("--debug").type(boolean.class).initialValue(false).scopeType(ScopeType.INHERIT)
                .setter(new ISetter() {
                    @Override
                    @SuppressWarnings("unchecked")
                    public <T> T set(T value) {
                        Boolean old = debug;
                        // Picocli first sets the initial false: Main has configured logging for that already
                        // (or, for usage, needs none).
                        if ((Boolean) value != debug) setDebug((Boolean) value);
                        return (T) old;
                    }
                })
                .description("Log details and show stack traces of errors.").build());
    }

    /** The command's model, for {@code new CommandLine(...)}; subcommands are added to it. */
    CommandSpec spec() { return spec; }

    private void setDebug(boolean debug) {
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
