package dev.flint.api;

import dev.flint.api.model.FullVmConfiguration;
import dev.flint.api.model.LoggerConfig;
import dev.flint.api.model.MetricsConfig;
import dev.flint.devices.legacy.BootTimer;
import dev.flint.machine.StopReason;
import dev.flint.sys.SeccompFilter;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * {@code flint vmm}: a drop-in for the {@code firecracker} binary. Serves Firecracker's API on
 * {@code --api-sock} and/or boots straight from {@code --config-file}; the process lives as long as
 * the microVM (exit 0 when the guest powers off or resets, 1 on failure), or until killed if no
 * InstanceStart ever comes.
 *
 * <p>Its command-line model is built in code ({@link #spec()}, picocli's programmatic API) rather than read
 * from annotations: orchestrators wait for this command's socket, and reading annotations (their parser
 * and a proxy class generated per annotation type) was about half of the main thread's time before it
 * (docs/startup.md).
 */
public final class VmmCommand implements Callable<Integer> {
    // Loggers are looked up when the command runs, not in static fields: `flint --help` makes this command's
    // model and should not start java.util.logging for it.
    /** Held so the level --boot-timer sets stays (the logging framework keeps loggers only weakly). */
    private Logger bootTimerLog;
    private static final Pattern INSTANCE_ID = Pattern.compile("[A-Za-z0-9-]{1,64}");
    /**
     * The line, on standard error, with which the VMM says the guest reset its machine. It then ends with status 0
     * as for a power-off (Firecracker's behaviour); supervisors that reboot in place look for this line.
     */
    public static final String GUEST_RESET = "flint vmm: the guest reset the machine";

    // The options' values, set from the parse result when the command runs (see spec() for their help).
    Path apiSocket;
    Path configFile;
    boolean noApi;
    String id;
    String engine;
    boolean bootTimer;
    Path logPath;
    String level;
    boolean showLevel;
    boolean showLogOrigin;
    Path metricsPath;
    int maxPayload;
    Integer mmdsSizeLimit;
    boolean seccomp;
    int debugExitPort;

    private CommandSpec spec;

    /** What the options say about the backend to make: the {@code --engine} name and the isa-debug-exit port (-1: none). */
    public record BackendOptions(String engine, int debugExitPort) {}

    private final Function<BackendOptions, VmmBackend> backends;

    /**
     * @param backends makes the VMM that runs the machine, given the {@code --engine} name and the
     *                 {@code --debug-exit} port; the CLI passes its {@code dev.flint.vmm} adapter
     */
    public VmmCommand(Function<BackendOptions, VmmBackend> backends) {
        this.backends = backends;
    }

    /**
     * The command's model for picocli ({@code new CommandLine(vmm.spec())}, or a parent's addSubcommand):
     * the same options, defaults and help an annotated command would have, with this object as the command
     * that runs.
     */
    public CommandSpec spec() {
        if (spec != null) return spec;
        CommandSpec s = CommandSpec.wrapWithoutInspection(this);
        s.name("vmm").version("flint vmm " + VmmController.VMM_VERSION + " (Firecracker API " + VmmController.API_VERSION + ")");
        s.usageMessage().description("Run one microVM driven by the Firecracker REST API on a Unix socket.");
        s.addOption(option(Path.class, "PATH", "/run/flint.socket", "--api-sock")
                .description("Unix socket to serve the API on (default: ${DEFAULT-VALUE}).").build());
        s.addOption(option(Path.class, "FILE", null, "--config-file")
                .description("Firecracker JSON configuration; the microVM boots from it without any API call.").build());
        s.addOption(flag("--no-api").description("Serve no API (requires --config-file).").build());
        s.addOption(option(String.class, "ID", "anonymous-instance", "--id")
                .description("MicroVM id: 1 to 64 letters, digits or '-' (default: ${DEFAULT-VALUE}).").build());
        s.addOption(option(String.class, "auto|kvm|emu", "auto", "--engine")
                .description("How vCPUs run (Flint's addition to Firecracker's options; default: ${DEFAULT-VALUE}).").build());
        s.addOption(flag("--boot-timer")
                .description("Install the boot-timer device: the guest's write of 123 to MMIO 0xC0000000 logs the boot time.").build());
        s.addOption(option(Path.class, "PATH", null, "--log-path").description("File or named pipe for the log.").build());
        s.addOption(option(String.class, "LEVEL", "Info", "--level")
                .description("Log level: Error, Warning, Info, Debug, Trace or Off (default: ${DEFAULT-VALUE}).").build());
        s.addOption(flag("--show-level").description("Put the level in log lines.").build());
        s.addOption(flag("--show-log-origin").description("Put the origin in log lines.").build());
        s.addOption(option(Path.class, "PATH", null, "--metrics-path").description("File or named pipe for metrics.").build());
        s.addOption(option(int.class, "BYTES", "" + ApiServer.DEFAULT_MAX_PAYLOAD, "--http-api-max-payload-size")
                .description("Largest request body the API accepts (default: ${DEFAULT-VALUE}).").build());
        s.addOption(option(Integer.class, "BYTES", null, "--mmds-size-limit")
                .description("Largest MMDS data store, in bytes of JSON (default: the API payload limit).").build());
        s.addOption(flag("--seccomp")
                .description("Install Flint's seccomp filter on start: no exec, ptrace, mount, module or namespace calls from then on "
                        + "(flint jailer passes it).").build());
        s.addOption(option(int.class, "PORT", "-1", "--debug-exit").converters(new PortConverter())
                .showDefaultValue(CommandLine.Help.Visibility.NEVER)
                .description("Install an isa-debug-exit device at I/O port PORT (e.g. 0xf4), as QEMU's: a guest write of V "
                        + "to it stops the microVM and flint vmm exits with status (V << 1) | 1. For test kernels (Flint's addition).").build());
        // What mixinStandardHelpOptions adds, without reading its annotated mixin.
        s.addOption(flag("-h", "--help").usageHelp(true).description("Show this help message and exit.").build());
        s.addOption(flag("-V", "--version").versionHelp(true).description("Print version information and exit.").build());
        spec = s;
        return s;
    }

    private static OptionSpec.Builder option(Class<?> type, String paramLabel, String defaultValue, String name) {
        OptionSpec.Builder option = OptionSpec.builder(name).type(type).paramLabel(paramLabel);
        return defaultValue == null ? option : option.defaultValue(defaultValue);
    }

    private static OptionSpec.Builder flag(String... names) {
        return OptionSpec.builder(names).type(boolean.class).initialValue(false);
    }

    /** Copies the parsed options (or their defaults) into the fields the command works with. */
    private void readOptions() {
        apiSocket = value("--api-sock");
        configFile = value("--config-file");
        noApi = value("--no-api");
        id = value("--id");
        engine = value("--engine");
        bootTimer = value("--boot-timer");
        logPath = value("--log-path");
        level = value("--level");
        showLevel = value("--show-level");
        showLogOrigin = value("--show-log-origin");
        metricsPath = value("--metrics-path");
        maxPayload = value("--http-api-max-payload-size");
        mmdsSizeLimit = value("--mmds-size-limit");
        seccomp = value("--seccomp");
        debugExitPort = value("--debug-exit");
    }

    private <T> T value(String name) {
        return spec.findOption(name).getValue();
    }

    @Override
    public Integer call() {
        readOptions();
        PrintWriter err = spec.commandLine().getErr();
        try {
            return run();
        } catch (ApiException e) {
            err.println("flint vmm: " + e.getMessage());
        } catch (IOException e) {
            err.println("flint vmm: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            err.println("flint vmm: interrupted");
        }
        err.flush();
        return 1;
    }

    private int run() throws IOException, InterruptedException {
        if (!INSTANCE_ID.matcher(id).matches()) throw ApiException.badRequest("--id must be 1 to 64 letters, digits or '-'");
        if (noApi && configFile == null) throw ApiException.badRequest("--no-api needs --config-file (nothing could start the microVM)");
        if (maxPayload < 1) throw ApiException.badRequest("--http-api-max-payload-size must be positive");
        FullVmConfiguration config = configFile == null ? null : readConfig(configFile);
        // Before any thread serves a request or runs the guest; TSYNC covers the JVM's own threads too.
        if (seccomp) SeccompFilter.denying(SeccompFilter.VMM_DENIED).loadIntoThisProcess();

        // --boot-timer asks for the boot time: its line shows on stderr like `flint run --boot-timer`'s,
        // without --debug (and also goes to a logger configured below or over the API).
        if (bootTimer) {
            bootTimerLog = Logger.getLogger(BootTimer.class.getName());
            bootTimerLog.setLevel(Level.INFO);
        }
        if (mmdsSizeLimit != null && mmdsSizeLimit < 2) throw ApiException.badRequest("--mmds-size-limit must be at least 2");
        VmmController vmm = new VmmController(id, backends.apply(new BackendOptions(engine, debugExitPort)), bootTimer, mmdsSizeLimit != null ? mmdsSizeLimit : maxPayload);
        if (logPath != null) vmm.putLogger(new LoggerConfig(logPath.toString(), level, showLevel, showLogOrigin, null));
        if (metricsPath != null) vmm.putMetrics(new MetricsConfig(metricsPath.toString(), null, null));

        ApiServer server = null;
        if (!noApi) {
            server = ApiServer.start(apiSocket, vmm, maxPayload);
            // Wall time depends on the machine's load; the CPU time spent getting here does not.
            long ms = msSinceProcessStart();
            long cpuMs = ProcessHandle.current().info().totalCpuDuration().map(Duration::toMillis).orElse(-1L);
            if (ms >= 0) Logger.getLogger(VmmCommand.class.getName()).info(() -> "API socket " + apiSocket + " ready " + ms + " ms after process start (" + cpuMs + " ms CPU)");
        }
        ApiServer serving = server;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (serving != null) serving.close();
            vmm.close();
        }, "flint-vmm-exit"));

        try {
            if (config != null) bootFromConfig(vmm, config);
            StopReason reason = vmm.stopped().get();
            if (reason instanceof StopReason.DebugExit exit) return exit.exitStatus();
            if (!reason.guestRequested()) spec.commandLine().getErr().println("flint vmm: microVM stopped: " + describe(reason));
            // A supervisor (flint cloud's runtime) tells a reboot from inside the guest from a power-off by this line.
            if (reason instanceof StopReason.Reset reset) spec.commandLine().getErr().println(GUEST_RESET + " (" + reset.source() + ")");
            return reason.guestRequested() ? 0 : 1;
        } catch (ExecutionException e) {
            throw new IOException("microVM failed: " + e.getCause(), e);
        } finally {
            if (server != null) server.close();
            vmm.close();
        }
    }

    /**
     * Milliseconds since this process started (10 ms resolution), -1 where /proc does not say. Not
     * {@code ProcessHandle.Info.startInstant()}: it adds the boot time, which Linux gives in whole seconds,
     * so it is off by up to a second. Both numbers here count from boot, in the kernel's fixed 100 Hz
     * user-visible ticks.
     */
    static long msSinceProcessStart() {
        try {
            String uptime = Files.readString(Path.of("/proc/uptime"));
            String stat = Files.readString(Path.of("/proc/self/stat"));
            // Fields after "(comm) ": state is field 3, starttime field 22 of stat(5).
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            long startTicks = Long.parseLong(fields[22 - 3]);
            long upMs = Math.round(Double.parseDouble(uptime.substring(0, uptime.indexOf(' '))) * 1000);
            return Math.max(0, upMs - startTicks * 10);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    private void bootFromConfig(VmmController vmm, FullVmConfiguration config) throws IOException {
        try {
            vmm.bootFrom(config);
        } catch (ApiException e) {
            throw new IOException("config file " + configFile + ": " + e.getMessage(), e);
        }
    }

    private static String describe(StopReason reason) {
        return switch (reason) {
            case StopReason.Error e -> e.message();
            case StopReason.TripleFault t -> "triple fault";
            default -> reason.toString();
        };
    }

    /** Reads a Firecracker config file with the API's strict JSON rules. */
    static FullVmConfiguration readConfig(Path file) throws IOException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new IOException("cannot read config file " + file + ": " + e.getMessage(), e);
        }
        try {
            return Json.parse(bytes, FullVmConfiguration.class);
        } catch (ApiException e) {
            throw new IOException("config file " + file + ": " + e.getMessage(), e);
        }
    }
}
