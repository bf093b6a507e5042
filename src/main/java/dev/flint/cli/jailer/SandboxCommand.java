package dev.flint.cli.jailer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The command line that turns the jailer's process into the jailed program, built from well-kept tools
 * rather than Flint's own namespace code:
 *
 * <ol>
 *   <li>{@code sh} joins the jail's cgroups ({@code cgroup.procs}) and opens the seccomp program (fd 3) and
 *       bubblewrap's info file (fd 4), then execs the rest, so everything after runs inside the limits;</li>
 *   <li>{@code prlimit} sets {@code --resource-limit}s (no-file defaults to 2048, as in Firecracker);</li>
 *   <li>{@code setsid} with {@code --daemonize}; {@code nsenter --net} joins {@code --netns};</li>
 *   <li>{@code setpriv} becomes {@code --uid}/{@code --gid} with no supplementary groups and no inheritable
 *       capabilities, so bubblewrap runs unprivileged;</li>
 *   <li>{@code bwrap} (bubblewrap) makes a user namespace mapping only that uid/gid, new mount, PID, IPC and
 *       UTS namespaces (and a new, empty network namespace unless {@code --netns}), forbids further user
 *       namespaces, drops every capability, puts the chroot at {@code /}, mounts what the program needs
 *       read-only, loads the seccomp program, and execs the program.</li>
 * </ol>
 */
final class SandboxCommand {
    /** Host tools the sandbox is made of, each with the Debian package that has it. */
    record Tools(Path sh, Path prlimit, Path setsid, Path nsenter, Path setpriv, Path bwrap) {
        static Tools find() {
            return new Tools(which("sh", "dash"), which("prlimit", "util-linux"), which("setsid", "util-linux"),
                    which("nsenter", "util-linux"), which("setpriv", "util-linux"), which("bwrap", "bubblewrap"));
        }

        private static Path which(String name, String debianPackage) {
            for (String dir : List.of("/usr/bin", "/bin", "/usr/sbin", "/sbin")) {
                Path p = Path.of(dir, name);
                if (Files.isExecutable(p)) return p;
            }
            throw new JailException(name + " not found: install Debian's " + debianPackage + " package");
        }
    }

    /** Shared libraries the JVM links against, visible read-only in the jail at their host paths. */
    static final List<String> LIBRARY_DIRS = List.of("/usr/lib/x86_64-linux-gnu", "/usr/lib64");
    /** Merged-/usr symlinks, recreated in the jail when the host has them. */
    static final List<String> LIBRARY_LINKS = List.of("/lib", "/lib64");

    /** Inside the sandbox, before bwrap execs the program: join the cgroups, open fds 3 and 4. */
    private static final String LAUNCH_SCRIPT = """
            n=$1; shift
            while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done
            exec 3<"$1" 4>"$2" || exit 125
            shift 2
            exec "$@"
            """;

    private SandboxCommand() {}

    /**
     * @param program      the jailed program and its arguments, as seen inside the jail
     * @param cgroupDirs   cgroup folders to join
     * @param seccompBpf   the outer seccomp program (bwrap loads it)
     * @param infoFile     where bwrap writes the jailed program's host pid
     * @param devices      device nodes made in the chroot, bound over bwrap's minimal /dev
     * @param javaHome     the JDK to mount read-only at its own path, or null for a program that needs none
     */
    static List<String> build(JailConfig config, Tools tools, List<String> program, List<Path> cgroupDirs, Path seccompBpf,
                              Path infoFile, List<ChrootBuilder.DeviceNode> devices, Path javaHome) {
        List<String> c = new ArrayList<>(List.of(tools.sh().toString(), "-c", LAUNCH_SCRIPT, "flint-jail",
                Integer.toString(cgroupDirs.size())));
        for (Path dir : cgroupDirs) c.add(dir.resolve("cgroup.procs").toString());
        c.add(seccompBpf.toString());
        c.add(infoFile.toString());

        c.add(tools.prlimit().toString());
        long noFile = config.limits().getOrDefault("nofile", JailConfig.DEFAULT_NO_FILE);
        c.add("--nofile=" + noFile + ":" + noFile);
        Long fsize = config.limits().get("fsize");
        if (fsize != null) c.add("--fsize=" + fsize + ":" + fsize);
        c.add("--");

        if (config.daemonize()) c.add(tools.setsid().toString());
        if (config.netns().isPresent()) c.addAll(List.of(tools.nsenter().toString(), "--net=" + config.netns().get(), "--"));
        c.addAll(List.of(tools.setpriv().toString(), "--reuid=" + config.uid(), "--regid=" + config.gid(), "--clear-groups",
                "--inh-caps=-all", "--"));

        c.addAll(List.of(tools.bwrap().toString(), "--unshare-user", "--uid", Integer.toString(config.uid()),
                "--gid", Integer.toString(config.gid()), "--disable-userns",
                "--unshare-pid", "--as-pid-1", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"));
        if (config.netns().isEmpty()) c.add("--unshare-net");
        if (!config.daemonize()) c.add("--die-with-parent"); // the jailer waits for it; killing the jailer ends the jail
        c.addAll(List.of("--cap-drop", "ALL", "--clearenv", "--setenv", "HOME", "/",
                "--bind", config.chrootDir().toString(), "/"));
        if (javaHome != null) {
            c.addAll(List.of("--ro-bind", javaHome.toString(), javaHome.toString()));
            for (String dir : LIBRARY_DIRS) {
                if (Files.isDirectory(Path.of(dir))) c.addAll(List.of("--ro-bind", dir, dir));
            }
            for (String link : LIBRARY_LINKS) {
                Path p = Path.of(link);
                if (Files.isSymbolicLink(p)) {
                    try {
                        c.addAll(List.of("--symlink", Files.readSymbolicLink(p).toString(), link));
                    } catch (java.io.IOException e) {
                        throw new JailException("cannot read the link " + link + ": " + e.getMessage(), e);
                    }
                }
            }
        }
        c.addAll(List.of("--proc", "/proc", "--dev", "/dev"));
        for (ChrootBuilder.DeviceNode node : devices) {
            c.addAll(List.of("--dev-bind", config.chrootDir().resolve(node.path()).toString(), "/" + node.path()));
        }
        c.addAll(List.of("--chdir", "/", "--seccomp", "3", "--info-fd", "4", "--"));
        c.addAll(program);
        return c;
    }
}
