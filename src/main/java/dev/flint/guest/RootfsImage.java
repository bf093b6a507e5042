package dev.flint.guest;

import java.io.IOException;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * An ext4 root file system image for a Flint guest, built without mounting anything: the tree is staged
 * in a folder and {@code mke2fs -d} writes it into the image file. Two flavours:
 * <ul>
 *   <li>{@link Flavour#BUSYBOX}: the cached busybox-static and an init script, a few MiB;</li>
 *   <li>{@link Flavour#DEBIAN}: a Debian minbase from {@code debootstrap} (cached after the first build)
 *       with the same init script, which needs no systemd.</li>
 * </ul>
 * Both boot with the default initramfs and {@code root=/dev/vda}: it loads the virtio and ext4 modules and
 * switches to the disk. The image's init mounts the kernel file systems, runs {@code /etc/rc.local} if it
 * is executable, then starts a shell on the console; when it ends the root is remounted read-only (so the
 * image is clean for fsck on the host) and the VM powers off.
 */
public final class RootfsImage {
    public enum Flavour { BUSYBOX, DEBIAN }

    /** The smallest image mke2fs makes an ext4 journal for comfortably. */
    public static final long MIN_SIZE_MIB = 16;

    /** The init the image runs (after the initramfs switched to it); busybox supplies every applet. */
    static final String INIT = """
            #!/bin/busybox sh
            /bin/busybox mount -t proc proc /proc
            /bin/busybox mount -t sysfs sysfs /sys
            /bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
            [ -e /bin/sh ] || /bin/busybox --install -s /bin
            export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
            /bin/busybox hostname flint
            /bin/busybox devmem 0xc0000000 8 123 2>/dev/null
            [ -x /etc/rc.local ] && /etc/rc.local
            echo
            echo "Flint guest: root file system on $(/bin/busybox awk '$2 == "/" {print $1}' /proc/mounts | /bin/busybox tail -1). 'poweroff -f' or 'exit' ends the VM."
            /bin/busybox setsid /bin/busybox cttyhack /bin/sh -l
            /bin/busybox sync
            /bin/busybox mount -o remount,ro /
            /bin/busybox poweroff -f
            """;

    private final Flavour flavour;
    private final GuestAssets assets;
    private final Map<String, String> extraFiles = new LinkedHashMap<>();
    private final Map<String, String> plainFiles = new LinkedHashMap<>();
    private final List<String> packages = new java.util.ArrayList<>();
    private String setupScript = "";
    private String init = INIT;

    private RootfsImage(Flavour flavour, GuestAssets assets) {
        this.flavour = flavour;
        this.assets = assets;
    }

    public static RootfsImage of(Flavour flavour, GuestAssets assets) { return new RootfsImage(flavour, assets); }

    /** Adds an executable file (e.g. /etc/rc.local) to the image. */
    public RootfsImage withExecutable(String path, String content) {
        if (!path.startsWith("/") || path.contains("..")) throw new IllegalArgumentException("absolute path needed: " + path);
        extraFiles.put(path, content);
        return this;
    }

    /** Adds a non-executable file (mode 0644), e.g. /etc/inittab. */
    public RootfsImage withFile(String path, String content) {
        if (!path.startsWith("/") || path.contains("..")) throw new IllegalArgumentException("absolute path needed: " + path);
        plainFiles.put(path, content);
        return this;
    }

    /** Replaces the image's /sbin/init script (default {@link #INIT}: a console shell). */
    public RootfsImage withInit(String content) {
        this.init = content;
        return this;
    }

    /**
     * Debian flavour only: more packages for debootstrap's {@code --include}, and a shell script run once
     * with {@code chroot} in the fresh tree (adding users, removing generated host keys...). The tree is
     * cached under a name derived from both, so images with other packages never share a stale tree.
     */
    public RootfsImage withDebianPackages(List<String> names, String chrootSetup) {
        if (flavour != Flavour.DEBIAN) throw new IllegalStateException("packages need the Debian flavour");
        for (String n : names) {
            if (!n.matches("[a-z0-9][a-z0-9+.-]*")) throw new IllegalArgumentException("not a Debian package name: " + n);
        }
        packages.addAll(names);
        setupScript = chrootSetup;
        return this;
    }

    /**
     * Writes the image to {@code output} ({@code sizeMib} MiB, sparse). Refuses to replace an existing
     * file unless {@code replace}; the image appears only when complete (built next to it, then renamed).
     */
    public Path build(Path output, long sizeMib, boolean replace, PrintStream progress) {
        if (sizeMib < MIN_SIZE_MIB) throw new GuestFetchException("image size " + sizeMib + " MiB is too small: at least " + MIN_SIZE_MIB + " MiB");
        if (!replace && Files.exists(output)) {
            throw new GuestFetchException(output + " exists; pass --force to replace it");
        }
        Path dir = output.toAbsolutePath().getParent();
        Path staging = null, partial = null;
        try {
            Files.createDirectories(dir);
            staging = Files.createTempDirectory(dir, ".flint-rootfs-");
            Path tree = switch (flavour) {
                case BUSYBOX -> busyboxTree(staging);
                case DEBIAN -> debianTree(staging, progress);
            };
            Path overlay = stage(tree, staging);
            partial = dir.resolve("." + output.getFileName() + ".partial");
            try (RandomAccessFile f = new RandomAccessFile(partial.toFile(), "rw")) {
                f.setLength(sizeMib << 20);
            }
            HostCommand.run(null, null, "mke2fs", "-q", "-F", "-t", "ext4", "-L", "flint-root", "-d", overlay.toString(),
                    partial.toString());
            Files.move(partial, output, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return output;
        } catch (IOException e) {
            throw new GuestFetchException("cannot build " + output + ": " + e.getMessage(), e);
        } finally {
            if (partial != null) deleteQuietly(partial);
            if (staging != null) deleteQuietly(staging);
        }
    }

    /** busybox, the init, and the folders the kernel and the init expect. */
    private Path busyboxTree(Path staging) throws IOException {
        Path root = staging.resolve("root");
        for (String d : List.of("bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "root", "mnt", "var/log")) {
            Files.createDirectories(root.resolve(d));
        }
        Files.copy(assets.busybox(), root.resolve("bin/busybox"));
        setMode(root.resolve("bin/busybox"), "rwxr-xr-x");
        setMode(root.resolve("tmp"), "rwxrwxrwx");
        Files.writeString(root.resolve("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
        Files.writeString(root.resolve("etc/group"), "root:x:0:\n");
        Files.writeString(root.resolve("etc/hostname"), "flint\n");
        return root;
    }

    /**
     * A Debian minbase of the host's release from the host's own apt source (the only archive this
     * machine may reach), debootstrapped once into the guest cache and reused.
     */
    private Path debianTree(Path staging, PrintStream progress) throws IOException {
        Path cached = assets.cacheDir().resolve("rootfs/" + debianTreeName());
        if (!Files.isDirectory(cached)) {
            String[] source = debianSource();
            Path fresh = staging.resolve("debootstrap");
            List<String> command = new java.util.ArrayList<>(List.of("debootstrap", "--variant=minbase"));
            if (!packages.isEmpty()) command.add("--include=" + String.join(",", packages));
            command.addAll(List.of(source[1], fresh.toString(), source[0]));
            progress.println(String.join(" ", command.subList(0, command.size() - 2)) + " from " + source[0] + " (once; cached in " + cached + ")");
            HostCommand.run(null, progress, command.toArray(String[]::new));
            if (!setupScript.isEmpty()) {
                progress.println("setting up the tree (chroot)");
                Path script = fresh.resolve("tmp/flint-setup.sh");
                Files.writeString(script, setupScript);
                HostCommand.run(null, progress, "chroot", fresh.toString(), "/bin/sh", "/tmp/flint-setup.sh");
                Files.delete(script);
            }
            Files.createDirectories(cached.getParent());
            try {
                Files.move(fresh, cached, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException e) {
                // another build cached it meanwhile: use that one
            }
        }
        return cached;
    }

    /** debian-minbase, or debian-minbase-HASH of the extra packages and setup script. */
    private String debianTreeName() {
        if (packages.isEmpty() && setupScript.isEmpty()) return "debian-minbase";
        try {
            byte[] digest = java.security.MessageDigest.getInstance("SHA-256")
                    .digest((String.join(",", packages) + "\n" + setupScript).getBytes(java.nio.charset.StandardCharsets.UTF_8));
            return "debian-minbase-" + java.util.HexFormat.of().formatHex(digest, 0, 6);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The first "deb URI SUITE" of the host's apt sources (one-line or deb822 format). */
    static String[] debianSource() throws IOException {
        Pattern oneLine = Pattern.compile("^deb\\s+(?:\\[[^]]*]\\s+)?(\\S+)\\s+(\\S+)", Pattern.MULTILINE);
        Pattern uris = Pattern.compile("^URIs:\\s*(\\S+)", Pattern.MULTILINE), suites = Pattern.compile("^Suites:\\s*(\\S+)", Pattern.MULTILINE);
        List<Path> files = new java.util.ArrayList<>();
        if (Files.isRegularFile(Path.of("/etc/apt/sources.list"))) files.add(Path.of("/etc/apt/sources.list"));
        if (Files.isDirectory(Path.of("/etc/apt/sources.list.d"))) {
            try (Stream<Path> s = Files.list(Path.of("/etc/apt/sources.list.d"))) {
                files.addAll(s.sorted().toList());
            }
        }
        for (Path f : files) {
            String text = Files.readString(f);
            Matcher m = oneLine.matcher(text);
            if (m.find() && !m.group(2).contains("security") && !m.group(2).contains("-updates")) return new String[] {m.group(1), m.group(2)};
            Matcher u = uris.matcher(text), su = suites.matcher(text);
            if (u.find() && su.find()) return new String[] {u.group(1), su.group(1)};
        }
        throw new GuestFetchException("no Debian archive in /etc/apt/sources.list*: debootstrap needs one");
    }

    /**
     * The folder mke2fs copies: for busybox the staged tree itself; for Debian a copy of the cached tree
     * in the staging folder (the cache stays pristine), with busybox added for the init.
     */
    private Path stage(Path tree, Path staging) throws IOException {
        Path root = tree;
        if (flavour == Flavour.DEBIAN) {
            root = staging.resolve("root");
            HostCommand.run(null, null, "cp", "-a", tree.toString(), root.toString());
            Path bb = root.resolve("bin/busybox");
            Files.deleteIfExists(bb);
            Files.copy(assets.busybox(), bb);
            setMode(bb, "rwxr-xr-x");
        }
        Path init = root.resolve("sbin/init");
        Files.createDirectories(init.getParent());
        Files.deleteIfExists(init);
        Files.writeString(init, this.init);
        setMode(init, "rwxr-xr-x");
        for (Map.Entry<String, String> e : plainFiles.entrySet()) {
            Path f = root.resolve(e.getKey().substring(1));
            Files.createDirectories(f.getParent());
            Files.deleteIfExists(f);
            Files.writeString(f, e.getValue());
            setMode(f, "rw-r--r--");
        }
        for (Map.Entry<String, String> e : extraFiles.entrySet()) {
            Path f = root.resolve(e.getKey().substring(1));
            Files.createDirectories(f.getParent());
            Files.deleteIfExists(f);
            Files.writeString(f, e.getValue());
            setMode(f, "rwxr-xr-x");
        }
        return root;
    }

    private static void setMode(Path p, String mode) throws IOException {
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(mode));
    }

    private static void deleteQuietly(Path p) {
        if (!Files.exists(p)) return;
        try (Stream<Path> walk = Files.walk(p)) {
            for (Path q : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
        } catch (IOException | UncheckedIOException ignored) {
            // a leftover temporary file is harmless; the image itself was renamed into place or never was
        }
    }
}
