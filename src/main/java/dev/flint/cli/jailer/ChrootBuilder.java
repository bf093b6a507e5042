package dev.flint.cli.jailer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Prepares {@code <chroot-base>/<exec-name>/<id>/root} the way Firecracker's jailer does: the folders
 * are made (an existing one is reused), the program is copied in, device nodes for {@code /dev/kvm} and
 * {@code /dev/net/tun} are made there owned by the jail's user, and the root folder is handed to that user
 * so the VMM can create its API socket in it.
 *
 * <p>A Java VMM is not one static binary: for the Flint VMM the JVM's class path (flint.jar) is copied in
 * ({@code /flint/classpath}), and the JDK and the system's shared libraries are bind-mounted read-only by
 * the sandbox ({@link SandboxCommand}), not copied.
 */
final class ChrootBuilder {
    static final String CLASSPATH_DIR = "flint/classpath";

    private ChrootBuilder() {}

    /** A device node the jail gets, if the host has it. */
    record DeviceNode(String path, int major, int minor) {}

    static final List<DeviceNode> DEVICES = List.of(new DeviceNode("dev/kvm", 10, 232), new DeviceNode("dev/net/tun", 10, 200));

    /** Builds the chroot; returns the device nodes made in it (relative to the chroot). */
    static List<DeviceNode> prepare(JailConfig config, List<Path> classPath) {
        Path root = config.chrootDir();
        try {
            Files.createDirectories(root);
            if (config.execFile().isPresent()) {
                Files.copy(config.execFile().get(), root.resolve(config.execName()), StandardCopyOption.REPLACE_EXISTING,
                        StandardCopyOption.COPY_ATTRIBUTES);
                chown(root.resolve(config.execName()), config);
            } else {
                copyClassPath(classPath, root.resolve(CLASSPATH_DIR));
            }
            List<DeviceNode> made = new ArrayList<>();
            for (DeviceNode node : DEVICES) {
                if (!Files.exists(Path.of("/" + node.path()))) continue;
                Path target = root.resolve(node.path());
                Files.createDirectories(target.getParent());
                if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS)) mknod(target, node);
                chown(target, config);
                made.add(node);
            }
            chown(root, config);
            requireSearchable(root.getParent(), config);
            return made;
        } catch (IOException e) {
            throw new JailException("cannot prepare the chroot " + root + ": " + e.getMessage(), e);
        }
    }

    /** The class path as the jailed JVM sees it: each entry under /flint/classpath, in order. */
    static List<String> jailedClassPath(List<Path> classPath) {
        List<String> entries = new ArrayList<>();
        for (int i = 0; i < classPath.size(); i++) entries.add("/" + CLASSPATH_DIR + "/" + entryName(i, classPath.get(i)));
        return entries;
    }

    private static String entryName(int index, Path entry) {
        return index + "-" + entry.getFileName();
    }

    /** Hard links where the file system allows (a jar is not copied twice), copies elsewhere. */
    private static void copyClassPath(List<Path> classPath, Path target) throws IOException {
        Files.createDirectories(target);
        for (int i = 0; i < classPath.size(); i++) {
            Path entry = classPath.get(i);
            Path into = target.resolve(entryName(i, entry));
            if (Files.isDirectory(entry)) {
                try (Stream<Path> tree = Files.walk(entry)) {
                    for (Path p : (Iterable<Path>) tree::iterator) {
                        Path dest = into.resolve(entry.relativize(p).toString());
                        if (Files.isDirectory(p)) Files.createDirectories(dest);
                        else linkOrCopy(p, dest);
                    }
                }
            } else if (Files.isRegularFile(entry)) {
                linkOrCopy(entry, into);
            }
        }
    }

    private static void linkOrCopy(Path from, Path to) throws IOException {
        Files.deleteIfExists(to);
        try {
            Files.createLink(to, from);
        } catch (IOException | UnsupportedOperationException e) {
            Files.copy(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** The jail's user must be able to walk down to the chroot, or the sandbox cannot mount it. */
    private static void requireSearchable(Path dir, JailConfig config) throws IOException {
        for (Path p = dir; p != null; p = p.getParent()) {
            var perms = Files.getPosixFilePermissions(p);
            int owner = (Integer) Files.getAttribute(p, "unix:uid"), group = (Integer) Files.getAttribute(p, "unix:gid");
            boolean searchable = perms.contains(java.nio.file.attribute.PosixFilePermission.OTHERS_EXECUTE)
                    || owner == config.uid() && perms.contains(java.nio.file.attribute.PosixFilePermission.OWNER_EXECUTE)
                    || group == config.gid() && perms.contains(java.nio.file.attribute.PosixFilePermission.GROUP_EXECUTE);
            if (!searchable) {
                throw new JailException("uid " + config.uid() + " cannot reach the chroot through " + p
                        + " (make it searchable, e.g. chmod o+x " + p + ")");
            }
        }
    }

    private static void mknod(Path target, DeviceNode node) throws IOException {
        // mode 0600: only the jail's user (chown below), as Firecracker makes them.
        Process p = new ProcessBuilder("mknod", "-m", "600", target.toString(), "c",
                Integer.toString(node.major()), Integer.toString(node.minor())).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).strip();
        try {
            if (p.waitFor() != 0 && !(Files.exists(target, LinkOption.NOFOLLOW_LINKS))) {
                throw new JailException("cannot make /" + node.path() + " in the jail: " + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new JailException("interrupted");
        }
    }

    private static void chown(Path path, JailConfig config) throws IOException {
        Files.setAttribute(path, "unix:uid", config.uid(), LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(path, "unix:gid", config.gid(), LinkOption.NOFOLLOW_LINKS);
    }

}
