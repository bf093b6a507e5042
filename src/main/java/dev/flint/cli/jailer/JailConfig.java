package dev.flint.cli.jailer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * One jail, validated once at the edge: everything {@code flint jailer} was told, in checked form.
 *
 * @param id           the microVM id: 1 to 64 letters, digits or '-' (it names the chroot and the cgroup)
 * @param execFile     the program to jail; empty for the Flint VMM itself ({@code flint vmm})
 * @param uid          the user the jailed program runs as (never root)
 * @param gid          its group (never root's)
 * @param chrootBase   where jails are built: the chroot is {@code <chrootBase>/<execName>/<id>/root}
 * @param netns        a network namespace to join (a path such as /var/run/netns/NAME); empty: a new, empty one
 * @param cgroups      cgroup files and the values to write there, in the order given
 * @param cgroupVersion 1 or 2
 * @param parentCgroup the cgroup under which {@code <id>} is made, relative to the hierarchy's root
 * @param limits       resource limits (prlimit names: fsize, nofile) and their values
 * @param daemonize    detach (new session, standard I/O on /dev/null) and return once the jail runs
 * @param vmmArgs      the jailed program's own arguments (after {@code --})
 */
public record JailConfig(String id, Optional<Path> execFile, int uid, int gid, Path chrootBase, Optional<Path> netns,
                         Map<String, String> cgroups, int cgroupVersion, String parentCgroup, Map<String, Long> limits,
                         boolean daemonize, List<String> vmmArgs) {
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9-]{1,64}");
    /** A cgroup interface file: controller '.' name, nothing that could leave the cgroup's folder. */
    private static final Pattern CGROUP_FILE = Pattern.compile("[a-z][a-z0-9_]*\\.[a-z0-9_.]+");
    private static final Pattern CGROUP_PATH = Pattern.compile("[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*");
    /** Firecracker's default when no {@code no-file} limit is given. */
    static final long DEFAULT_NO_FILE = 2048;

    public JailConfig {
        if (!ID.matcher(id).matches()) throw new JailException("--id must be 1 to 64 letters, digits or '-'");
        if (uid <= 0 || gid <= 0) throw new JailException("--uid and --gid must name a user and group other than root (> 0)");
        if (execFile.isPresent() && !Files.isRegularFile(execFile.get())) {
            throw new JailException("--exec-file " + execFile.get() + " is not a file");
        }
        if (!chrootBase.isAbsolute()) throw new JailException("--chroot-base-dir must be an absolute path");
        if (netns.isPresent() && !Files.exists(netns.get())) {
            throw new JailException("--netns " + netns.get() + " does not exist (see 'ip netns add')");
        }
        if (cgroupVersion != 1 && cgroupVersion != 2) throw new JailException("--cgroup-version must be 1 or 2");
        for (var entry : cgroups.entrySet()) {
            if (!CGROUP_FILE.matcher(entry.getKey()).matches() || entry.getKey().contains("..")) {
                throw new JailException("--cgroup " + entry.getKey() + ": not a cgroup file name like memory.max");
            }
            if (entry.getValue().isEmpty() || entry.getValue().contains("\n")) {
                throw new JailException("--cgroup " + entry.getKey() + ": the value must be one non-empty line");
            }
        }
        if (!CGROUP_PATH.matcher(parentCgroup).matches() || List.of(parentCgroup.split("/")).contains("..")) {
            throw new JailException("--parent-cgroup must be a relative path without '..'");
        }
        cgroups = Map.copyOf(new LinkedHashMap<>(cgroups));
        limits = Map.copyOf(limits);
        vmmArgs = List.copyOf(vmmArgs);
    }

    /** The last component of the exec file's path, or {@code flint} for the Flint VMM: names the jail's folder. */
    public String execName() {
        return execFile.map(p -> p.getFileName().toString()).orElse("flint");
    }

    /** {@code <chroot-base>/<exec-name>/<id>}: the jail's own folder, holding {@code root}. */
    public Path jailDir() {
        return chrootBase.resolve(execName()).resolve(id);
    }

    /** The folder the jailed program sees as {@code /}. */
    public Path chrootDir() {
        return jailDir().resolve("root");
    }

    /** Parses a {@code --resource-limit RESOURCE=VALUE} (Firecracker's names) into prlimit's name and value. */
    static Map.Entry<String, Long> parseLimit(String text) {
        int eq = text.indexOf('=');
        if (eq < 0) throw new JailException("--resource-limit " + text + ": expected RESOURCE=VALUE (fsize or no-file)");
        String name = switch (text.substring(0, eq)) {
            case "fsize" -> "fsize";
            case "no-file" -> "nofile";
            default -> throw new JailException("--resource-limit " + text + ": the resource must be fsize or no-file");
        };
        try {
            long value = Long.parseLong(text.substring(eq + 1));
            if (value < 0) throw new NumberFormatException();
            return Map.entry(name, value);
        } catch (NumberFormatException e) {
            throw new JailException("--resource-limit " + text + ": the value must be a non-negative number");
        }
    }

    /** Parses a {@code --cgroup FILE=VALUE}. */
    static Map.Entry<String, String> parseCgroup(String text) {
        int eq = text.indexOf('=');
        if (eq <= 0) throw new JailException("--cgroup " + text + ": expected FILE=VALUE, e.g. memory.max=536870912");
        return Map.entry(text.substring(0, eq), text.substring(eq + 1));
    }
}
