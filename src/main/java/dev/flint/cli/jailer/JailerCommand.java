package dev.flint.cli.jailer;

import dev.flint.sys.SeccompFilter;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code flint jailer}: Firecracker's jailer for Flint. Builds the chroot, the cgroups and the seccomp
 * program, then starts the program (by default the Flint VMM, {@code flint vmm}) sandboxed by bubblewrap:
 * its own user, mount, PID, IPC, UTS and network namespaces, chrooted, as {@code --uid}/{@code --gid}
 * with no capabilities, in its cgroups, under resource limits and a seccomp filter. The Flint VMM also
 * installs its own, stricter filter once it runs ({@code flint vmm --seccomp}: no exec from then on).
 *
 * <p>Exit status: without {@code --daemonize}, the jailed program's; with it, 0 once the jail runs.
 * 1 when the jail cannot be built, 2 for a bad command line.
 */
@Command(name = "jailer", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Start the Flint VMM (or --exec-file) jailed, as Firecracker's jailer does: chroot at "
                + "<chroot-base-dir>/<exec-name>/<id>/root, new mount/PID/network namespaces, --uid/--gid without "
                + "capabilities, cgroup limits, resource limits and a seccomp filter. Needs root, bubblewrap and libseccomp.",
                "Arguments after -- go to the jailed program (for the Flint VMM: 'flint vmm' options, e.g. --api-sock /api.sock)."})
public final class JailerCommand implements Callable<Integer> {
    private static final Pattern CHILD_PID = Pattern.compile("\"child-pid\"\\s*:\\s*(\\d+)");
    private static final Duration START_TIMEOUT = Duration.ofMinutes(2);

    @Option(names = "--id", required = true, paramLabel = "ID", description = "MicroVM id: 1 to 64 letters, digits or '-'.")
    String id;

    @Option(names = "--exec-file", paramLabel = "FILE",
            description = "Program to jail (copied into the chroot, run with --id=ID). Default: the Flint VMM ('flint vmm').")
    Path execFile;

    @Option(names = "--uid", required = true, paramLabel = "UID", description = "User the jailed program runs as (not 0).")
    int uid;

    @Option(names = "--gid", required = true, paramLabel = "GID", description = "Group the jailed program runs as (not 0).")
    int gid;

    @Option(names = "--chroot-base-dir", paramLabel = "DIR", defaultValue = "/srv/jailer",
            description = "Where jails are built (default: ${DEFAULT-VALUE}).")
    Path chrootBase;

    @Option(names = "--netns", paramLabel = "PATH",
            description = "Network namespace to join, e.g. /var/run/netns/NAME. Default: a new, empty one.")
    Path netns;

    @Option(names = "--cgroup", paramLabel = "FILE=VALUE",
            description = "Cgroup file and value, e.g. memory.max=536870912 or cpu.max=\"50000 100000\" (repeatable).")
    List<String> cgroups = new ArrayList<>();

    @Option(names = "--cgroup-version", paramLabel = "1|2", defaultValue = "2",
            description = "Cgroup hierarchy for --cgroup (default: ${DEFAULT-VALUE}).")
    int cgroupVersion;

    @Option(names = "--parent-cgroup", paramLabel = "PATH",
            description = "Cgroup under which <id> is made, relative to the hierarchy's root (default: the exec name).")
    String parentCgroup;

    @Option(names = "--resource-limit", paramLabel = "RESOURCE=VALUE",
            description = "fsize=BYTES or no-file=COUNT (repeatable; no-file defaults to 2048).")
    List<String> resourceLimits = new ArrayList<>();

    @Option(names = "--daemonize", description = "Detach (new session, standard I/O on /dev/null) and exit once the jail runs.")
    boolean daemonize;

    @Option(names = "--new-pid-ns",
            description = "Run in a new PID namespace. Flint's jail always has one; the flag is accepted for Firecracker's command lines.")
    boolean newPidNs;

    @Parameters(paramLabel = "ARGS", description = "Arguments for the jailed program (after --).")
    List<String> programArgs = new ArrayList<>();

    private final PrintStream err;

    public JailerCommand(PrintStream err) {
        this.err = err;
    }

    @Override
    public Integer call() throws IOException, InterruptedException {
        JailConfig config;
        try {
            config = config();
        } catch (JailException e) {
            err.println("flint jailer: " + e.getMessage());
            return 2;
        }
        try {
            return run(config);
        } catch (JailException | IOException e) {
            err.println("flint jailer: " + e.getMessage());
            return 1;
        }
    }

    private JailConfig config() {
        Map<String, String> cgroupValues = new LinkedHashMap<>();
        for (String text : cgroups) {
            var entry = JailConfig.parseCgroup(text);
            cgroupValues.put(entry.getKey(), entry.getValue());
        }
        Map<String, Long> limits = new LinkedHashMap<>();
        for (String text : resourceLimits) {
            var entry = JailConfig.parseLimit(text);
            limits.put(entry.getKey(), entry.getValue());
        }
        Optional<Path> exec = Optional.ofNullable(execFile).map(Path::toAbsolutePath);
        String parent = parentCgroup != null ? parentCgroup : exec.map(p -> p.getFileName().toString()).orElse("flint");
        return new JailConfig(id, exec, uid, gid, chrootBase.toAbsolutePath(), Optional.ofNullable(netns), cgroupValues,
                cgroupVersion, parent, limits, daemonize, programArgs);
    }

    private int run(JailConfig config) throws IOException, InterruptedException {
        int euid = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        if (euid != 0) throw new JailException("the jailer needs root (it makes cgroups, device nodes and the chroot)");
        SandboxCommand.Tools tools = SandboxCommand.Tools.find();
        if (!SeccompFilter.available()) throw new JailException("libseccomp not found: install Debian's libseccomp2 package");

        List<Path> classPath = classPath(System.getProperty("java.class.path"));
        List<ChrootBuilder.DeviceNode> devices = ChrootBuilder.prepare(config, classPath);
        List<Path> cgroupDirs = CgroupSetup.ofHost().apply(config);

        // The outer filter, kept outside the chroot (owned by root); exec stays allowed so bwrap can start the program.
        Path bpf = config.jailDir().resolve("seccomp.bpf");
        SeccompFilter.denying(SeccompFilter.JAIL_DENIED).exportBpf(bpf);
        Path info = config.jailDir().resolve("sandbox-info.json");
        Files.deleteIfExists(info);

        Path javaHome = config.execFile().isPresent() ? null : Path.of(System.getProperty("java.home"));
        List<String> command = SandboxCommand.build(config, tools, program(config, classPath, javaHome), cgroupDirs, bpf, info,
                devices, javaHome);
        ProcessBuilder builder = new ProcessBuilder(command);
        builder.environment().clear(); // as Firecracker's jailer: nothing of the caller's environment goes in
        if (config.daemonize()) {
            builder.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD);
        } else {
            builder.inheritIO();
        }
        Process process = builder.start();
        long pid = awaitChildPid(process, info);
        if (pid > 0) Files.writeString(config.chrootDir().resolve(config.execName() + ".pid"), Long.toString(pid));
        if (config.daemonize()) {
            if (pid <= 0) throw new JailException("the jail did not start (exit status " + process.exitValue() + ")");
            return 0;
        }
        return process.waitFor();
    }

    /**
     * This JVM's class path with the jars that jars' manifests name ({@code flint.jar} lists its libraries
     * in {@code Class-Path}), each once, in order: what the jailed JVM gets with {@code -cp}.
     */
    static List<Path> classPath(String javaClassPath) throws IOException {
        java.util.LinkedHashSet<Path> entries = new java.util.LinkedHashSet<>();
        java.util.ArrayDeque<Path> pending = new java.util.ArrayDeque<>();
        for (String entry : javaClassPath.split(File.pathSeparator)) {
            if (!entry.isEmpty()) pending.add(Path.of(entry).toAbsolutePath().normalize());
        }
        while (!pending.isEmpty()) {
            Path entry = pending.poll();
            if (!Files.exists(entry) || !entries.add(entry) || !Files.isRegularFile(entry)) continue;
            try (var jar = new java.util.jar.JarFile(entry.toFile())) {
                var manifest = jar.getManifest();
                String listed = manifest == null ? null : manifest.getMainAttributes().getValue("Class-Path");
                if (listed == null) continue;
                for (String relative : listed.trim().split("\\s+")) {
                    if (relative.isEmpty() || relative.contains(":")) continue; // URLs other than relative paths are not followed
                    pending.add(entry.getParent().resolve(relative).normalize());
                }
            } catch (IOException e) {
                // not a jar: a class folder or some other entry; copied as it is
            }
        }
        return List.copyOf(entries);
    }

    /** The jailed program's pid as the host sees it (bwrap reports it once it has cloned), or -1 if it ended first. */
    private static long awaitChildPid(Process process, Path info) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        long pause = 1;
        while (System.nanoTime() < deadline) {
            if (Files.exists(info)) {
                Matcher m = CHILD_PID.matcher(Files.readString(info));
                if (m.find()) return Long.parseLong(m.group(1));
            }
            if (!process.isAlive()) return -1;
            Thread.sleep(pause); // bwrap writes the file within milliseconds of starting
            pause = Math.min(20, pause * 2);
        }
        return -1;
    }

    private List<String> program(JailConfig config, List<Path> classPath, Path javaHome) {
        List<String> program = new ArrayList<>();
        if (javaHome == null) {
            program.add("/" + config.execName());
            program.add("--id=" + config.id());
        } else {
            program.addAll(List.of(javaHome.resolve("bin/java").toString(), "--enable-native-access=ALL-UNNAMED",
                    "-XX:+UseSerialGC", "-XX:-UsePerfData"));
            String options = System.getenv("FLINT_JAVA_OPTS");
            if (options != null && !options.isBlank()) program.addAll(List.of(options.strip().split("\\s+")));
            program.addAll(List.of("-cp", String.join(File.pathSeparator, ChrootBuilder.jailedClassPath(classPath)),
                    "dev.flint.cli.Main", "vmm", "--id", config.id(), "--seccomp"));
        }
        program.addAll(config.vmmArgs());
        return program;
    }
}
