package dev.flint.cli;

import dev.flint.api.ApiPreload;
import dev.flint.api.VmmApiBackend;
import dev.flint.api.VmmCommand;
import dev.flint.arch.x86.BootException;
import dev.flint.cli.jailer.JailerCommand;
import dev.flint.arch.x86.UnpackedKernelCache;
import dev.flint.guest.GuestAssets;
import dev.flint.vmm.Console;
import dev.flint.vmm.Engines;
import dev.flint.vmm.VmConfigException;
import dev.flint.devices.virtio.net.TapException;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;

/**
 * Entry point of {@code bin/flint}. {@link #run} returns the exit code instead of exiting so tests can
 * drive the whole command line in-process.
 *
 * <p>Exit codes: 0 the command worked (for {@code run}: the guest powered off or rebooted), 1 it failed
 * (VMM or engine error, triple fault, fetch failure), 2 the command line or a value on it is wrong
 * (including a kernel or initrd the boot loader cannot use).
 */
public final class Main {
    public static final int OK = 0;
    public static final int FAILED = 1;
    public static final int USAGE = 2;

    private Main() {}

    public static void main(String[] args) {
        // `flint vmm` is started by orchestrators that wait for its socket: the API's costliest class
        // initializations run beside the command-line parsing instead of after it.
        if (runsVmm(args)) ApiPreload.start();
        // Unbuffered: the guest's serial output must appear byte by byte (prompts end without a newline).
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true);
        CliContext context = new CliContext(System.in, out, System.err, TerminalMode::stdinIsTerminal,
                Engines.standard(), GuestAssets.defaultCacheDir());
        UnpackedKernelCache.useDirectory(context.cacheDir().resolve("unpacked"));
        System.exit(run(args, context));
    }

    static int run(String[] args, CliContext context) {
        // Usage logs nothing, and java.util.logging's start costs `flint --help` a tenth of its time (--debug
        // still configures it, through FlintCommand).
        if (!asksOnlyForUsage(args)) CliLogging.configure(context.err(), false);
        FlintCommand flint = new FlintCommand(context);
        CommandLine cli = commandLine(args, context, flint);
        cli.setOut(new PrintWriter(context.out(), true));
        cli.setErr(new PrintWriter(context.err(), true));
        cli.setParameterExceptionHandler((e, ignored) -> {
            context.err().println("flint: " + firstLine(e.getMessage()) + " (see 'flint "
                    + commandPath(e.getCommandLine()) + "--help')");
            return USAGE;
        });
        cli.setExecutionExceptionHandler((e, commandLine, parsed) -> {
            context.err().println("flint: " + oneLine(e));
            if (flint.debug()) e.printStackTrace(context.err());
            return e instanceof VmConfigException || e instanceof BootException || e instanceof TapException ? USAGE : FAILED;
        });
        return cli.execute(args);
    }

    /** The command line for {@code args}: what it parses and runs, with as much of the command tree as it needs. */
    static CommandLine commandLine(String[] args, CliContext context, FlintCommand flint) {
        CommandLine cli = new CommandLine(flint.spec());
        // Picocli reads every annotated command's annotations when it is added. `flint vmm` is started by
        // orchestrators that wait for its socket, so it gets only its own command, and neither it nor `flint`
        // is annotated (their models are built in code); every other command line gets all of them.
        if (asksOnlyForUsage(args)) {
            // The top-level usage lists each command by its name and description, nothing else: it reads just
            // their @Command annotations instead of building their whole models (every option of every
            // command and subcommand), which was most of `flint --help`'s time. MainTest checks that it
            // prints what the whole tree would.
            for (Class<?> command : COMMANDS) cli.addSubcommand(summaryOf(command));
        } else if (!runsVmm(args)) {
            cli.addSubcommand(new RunCommand(context, flint))
                    .addSubcommand(new CommandLine(new GuestCommand()).addSubcommand(new GuestCommand.Fetch(context)))
                    .addSubcommand(new CommandLine(new ImageCommand()).addSubcommand(new ImageCommand.Build(context)))
                    .addSubcommand(new CommandLine(new CloudCommand()).addSubcommand(new CloudCommand.Serve(context))
                            .addSubcommand(new CloudCommand.Env(context)).addSubcommand(new CloudCommand.Image(context)))
                    .addSubcommand(new JailerCommand(context.err()))
                    .addSubcommand(new CommandLine(new DeviceCommand()).addSubcommand(new DeviceCommand.Blk(context)))
                    .addSubcommand(new CommandLine(new SnapshotCommand()).addSubcommand(new SnapshotCommand.Rebase(context)));
        }

        cli.addSubcommand(new VmmCommand(options -> new VmmApiBackend(context.engines(), options.engine(),
                options.debugExitPort(), new Console(context.in(), context.out()))).spec());
        return cli;
    }

    /** The commands besides vmm, in the order the usage lists them (as the full command line adds them). */
    static final List<Class<?>> COMMANDS = List.of(RunCommand.class, GuestCommand.class, ImageCommand.class, CloudCommand.class,
            JailerCommand.class, DeviceCommand.class, SnapshotCommand.class);

    /** True if the command line only asks for the top-level usage: no command, only global options or help. */
    static boolean asksOnlyForUsage(String[] args) {
        for (String arg : args) {
            if (!arg.equals("--debug") && !arg.equals("-h") && !arg.equals("--help")) return false;
        }
        return true;
    }

    /** A command as the top-level usage shows it: name, aliases and description, from its @Command annotation. */
    static CommandSpec summaryOf(Class<?> type) {
        Command command = type.getAnnotation(Command.class);
        CommandSpec spec = CommandSpec.create().name(command.name()).aliases(command.aliases());
        spec.usageMessage().description(command.description()).header(command.header()).hidden(command.hidden());
        return spec;
    }

    /** True if the command is {@code vmm}: its name is the first argument that is not a global option. */
    static boolean runsVmm(String[] args) {
        for (String arg : args) {
            if (arg.equals("--debug")) continue;
            return arg.equals("vmm");
        }
        return false;
    }

    /** "run " for a subcommand, "" for the top level: where the user finds the relevant help. */
    private static String commandPath(CommandLine command) {
        String qualified = command.getCommandSpec().qualifiedName(" ");
        int space = qualified.indexOf(' ');
        return space < 0 ? "" : qualified.substring(space + 1) + " ";
    }

    /** Errors meant for the user carry a one-line message; anything else is named by its type. */
    static String oneLine(Throwable e) {
        String message = e.getMessage();
        if (message == null || message.isBlank()) return "internal error: " + e.getClass().getName() + " (run with --debug for details)";
        return firstLine(message);
    }

    static String firstLine(String message) {
        if (message == null || message.isBlank()) return "unknown error";
        int newline = message.indexOf('\n');
        return (newline < 0 ? message : message.substring(0, newline)).strip();
    }
}
