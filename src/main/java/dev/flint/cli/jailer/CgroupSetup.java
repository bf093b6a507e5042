package dev.flint.cli.jailer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Makes the jail's cgroups and writes the {@code --cgroup} values, as Firecracker's jailer does: the
 * cgroup is {@code <hierarchy root>/<parent-cgroup>/<id>}, with the hierarchy found in
 * {@code /proc/mounts}. On cgroup v2 the one unified hierarchy holds every controller; a controller a
 * file belongs to is first enabled in {@code cgroup.subtree_control} of each ancestor (below the root,
 * which the kernel exempts from the no-internal-processes rule, and the root itself). On v1 each
 * controller has its own mount. The folders whose {@code cgroup.procs} the jailed process must join are
 * returned; the launcher joins them before it becomes the jailed program, so nothing of the jail runs
 * outside its limits.
 */
final class CgroupSetup {
    private final Path mounts;

    CgroupSetup(Path mounts) {
        this.mounts = mounts;
    }

    static CgroupSetup ofHost() {
        return new CgroupSetup(Path.of("/proc/mounts"));
    }

    /** Creates the cgroups and writes the values; returns each cgroup folder the process must join. */
    List<Path> apply(JailConfig config) {
        if (config.cgroups().isEmpty()) return List.of();
        try {
            return config.cgroupVersion() == 2 ? applyV2(config) : applyV1(config);
        } catch (IOException e) {
            throw new JailException("cgroup setup failed: " + e.getMessage(), e);
        }
    }

    private List<Path> applyV2(JailConfig config) throws IOException {
        Path root = mountsOf("cgroup2").stream().findFirst().map(MountEntry::dir)
                .orElseThrow(() -> new JailException("no cgroup v2 hierarchy is mounted (see /proc/mounts); try --cgroup-version 1"));
        Path dir = root.resolve(config.parentCgroup()).resolve(config.id());
        Set<String> available = Set.of(read(root.resolve("cgroup.controllers")).split("\\s+"));
        Set<String> controllers = new LinkedHashSet<>();
        for (String file : config.cgroups().keySet()) {
            String controller = controllerOf(file);
            if (controller.equals("cgroup")) continue; // core interface files need no controller
            if (!available.contains(controller)) {
                throw new JailException("--cgroup " + file + ": the cgroup v2 hierarchy at " + root + " has no "
                        + controller + " controller (it has: " + String.join(" ", available).strip() + ")");
            }
            controllers.add(controller);
        }
        Files.createDirectories(dir);
        // Enable the controllers from the root down to the jail's parent, so the jail's folder has their files.
        for (Path level = root; !level.equals(dir); level = level.resolve(dir.getName(level.getNameCount()).toString())) {
            Set<String> enabled = Set.of(read(level.resolve("cgroup.subtree_control")).split("\\s+"));
            for (String controller : controllers) {
                if (!enabled.contains(controller)) write(level.resolve("cgroup.subtree_control"), "+" + controller);
            }
        }
        for (var entry : config.cgroups().entrySet()) write(dir.resolve(entry.getKey()), entry.getValue());
        return List.of(dir);
    }

    private List<Path> applyV1(JailConfig config) throws IOException {
        List<MountEntry> hierarchies = mountsOf("cgroup");
        Map<Path, Path> joined = new LinkedHashMap<>();
        for (var entry : config.cgroups().entrySet()) {
            String controller = controllerOf(entry.getKey());
            MountEntry mount = hierarchies.stream().filter(m -> m.options().contains(controller)).findFirst()
                    .orElseThrow(() -> new JailException("--cgroup " + entry.getKey() + ": no cgroup v1 hierarchy has the "
                            + controller + " controller (see /proc/mounts)"));
            Path dir = mount.dir().resolve(config.parentCgroup()).resolve(config.id());
            Files.createDirectories(dir);
            write(dir.resolve(entry.getKey()), entry.getValue());
            joined.put(dir, dir);
        }
        return new ArrayList<>(joined.keySet());
    }

    /** {@code memory.max} belongs to {@code memory}; {@code cgroup.max.depth} to the core ({@code cgroup}). */
    static String controllerOf(String file) {
        return file.substring(0, file.indexOf('.'));
    }

    private record MountEntry(Path dir, List<String> options) {}

    private List<MountEntry> mountsOf(String type) throws IOException {
        List<MountEntry> found = new ArrayList<>();
        for (String line : Files.readAllLines(mounts)) {
            String[] f = line.split(" ");
            if (f.length >= 4 && f[2].equals(type)) found.add(new MountEntry(Path.of(f[1]), List.of(f[3].split(","))));
        }
        return found;
    }

    private static String read(Path file) throws IOException {
        return Files.readString(file, StandardCharsets.US_ASCII).strip();
    }

    private static void write(Path file, String value) {
        try {
            Files.writeString(file, value, StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new JailException("cannot write '" + value + "' to " + file + ": " + e.getMessage(), e);
        }
    }
}
