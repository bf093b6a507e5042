package dev.flint.guest;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * The guest Flint boots by default: Debian's current stock kernel (with its modules) and a static busybox,
 * unpacked from Debian's own packages into a cache folder.
 *
 * <p>Cache layout, under {@link #cacheDir()}:
 * <pre>
 *   debian/                     the unpacked packages (boot/vmlinuz-VERSION, lib/modules/VERSION, bin/busybox)
 *   debian/flint-guest.properties   which packages and kernel version these are
 *   initrd/shell-virtio.cpio.gz the default initramfs (busybox shell, virtio modules), built from debian/
 * </pre>
 * A fetch unpacks into a temporary folder next to {@code debian/} and renames it into place, so an
 * interrupted or failed fetch leaves nothing that looks fetched; a complete one is reused as is.
 */
public final class GuestAssets {
    private static final Logger LOG = Logger.getLogger(GuestAssets.class.getName());
    static final String BUSYBOX_PACKAGE = "busybox-static";
    private static final String MANIFEST = "flint-guest.properties";

    private final Path cacheDir;
    private final PackageSource packages;

    private GuestAssets(Path cacheDir, PackageSource packages) {
        this.cacheDir = cacheDir.toAbsolutePath().normalize();
        this.packages = packages;
    }

    /** The guest assets cached under {@code cacheDir} (nothing is fetched until {@link #fetch}). */
    public static GuestAssets open(Path cacheDir) {
        return new GuestAssets(cacheDir, new DebianApt());
    }

    static GuestAssets open(Path cacheDir, PackageSource packages) {
        return new GuestAssets(cacheDir, packages);
    }

    /** $FLINT_CACHE, else $XDG_CACHE_HOME/flint, else ~/.cache/flint. */
    public static Path defaultCacheDir() {
        return cacheDirFor(System.getenv(), System.getProperty("user.home"));
    }

    static Path cacheDirFor(Map<String, String> env, String home) {
        String flint = env.get("FLINT_CACHE");
        if (flint != null && !flint.isBlank()) return Path.of(flint);
        String xdg = env.get("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank()) return Path.of(xdg, "flint");
        return Path.of(home, ".cache", "flint");
    }

    /** What {@link #fetch} found or downloaded. */
    public record Fetched(String kernelPackage, String kernelVersion, Path kernel, boolean downloaded) {}

    public Path cacheDir() { return cacheDir; }

    private Path root() { return cacheDir.resolve("debian"); }

    /** True if a complete fetch is in the cache. */
    public boolean isFetched() { return Files.isRegularFile(root().resolve(MANIFEST)); }

    /**
     * Makes sure the guest is in the cache, downloading and unpacking it if not. Progress lines go to
     * {@code progress}. Fails with a one-line {@link GuestFetchException}.
     */
    public Fetched fetch(PrintStream progress) {
        boolean downloaded = !isFetched();
        if (downloaded) download(progress);
        Fetched fetched = cached(downloaded);
        defaultInitrd();
        return fetched;
    }

    private Fetched cached(boolean downloaded) {
        Properties manifest = manifest();
        return new Fetched(manifest.getProperty("kernel.package"), manifest.getProperty("kernel.version"), kernel(), downloaded);
    }

    private void download(PrintStream progress) {
        try {
            Files.createDirectories(cacheDir);
        } catch (IOException e) {
            throw new GuestFetchException("cannot create the guest cache " + cacheDir + ": " + e.getMessage(), e);
        }
        Path work;
        try {
            work = Files.createTempDirectory(cacheDir, ".fetch-");
        } catch (IOException e) {
            throw new GuestFetchException("cannot write to the guest cache " + cacheDir + ": " + e.getMessage(), e);
        }
        // Ctrl-C skips finally blocks but runs shutdown hooks: without this an interrupted fetch would
        // leave hundreds of MiB of half-unpacked packages in the cache.
        Path workDir = work;
        Thread cleanupOnExit = new Thread(() -> deleteTree(workDir), "flint-fetch-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanupOnExit);
        try {
            progress.println("flint: fetching the guest into " + cacheDir + " (Debian packages, once)");
            String kernelPackage = packages.kernelPackage(progress);
            progress.println("flint: downloading " + kernelPackage + " and " + BUSYBOX_PACKAGE);
            Path debs = Files.createDirectory(work.resolve("debs"));
            packages.download(List.of(kernelPackage, BUSYBOX_PACKAGE), debs, progress);
            Path unpacked = Files.createDirectory(work.resolve("debian"));
            try (Stream<Path> files = Files.list(debs)) {
                for (Path deb : files.filter(f -> f.toString().endsWith(".deb")).sorted().toList()) {
                    progress.println("flint: unpacking " + deb.getFileName());
                    HostCommand.run(null, null, "dpkg-deb", "-x", deb.toString(), unpacked.toString());
                }
            }
            String version = kernelVersion(unpacked, kernelPackage);
            indexModules(unpacked, version, progress);
            if (!Files.isRegularFile(unpacked.resolve("bin/busybox"))) {
                throw new GuestFetchException(BUSYBOX_PACKAGE + " did not contain /bin/busybox");
            }
            Properties manifest = new Properties();
            manifest.setProperty("kernel.package", kernelPackage);
            manifest.setProperty("kernel.version", version);
            try (OutputStream out = Files.newOutputStream(unpacked.resolve(MANIFEST))) {
                manifest.store(out, "Guest fetched by flint");
            }
            try {
                Files.move(unpacked, root(), StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | DirectoryNotEmptyException raced) {
                // Another fetch finished first; its copy is as good as ours.
            }
            progress.println("flint: guest kernel " + version + " ready");
        } catch (IOException e) {
            throw new GuestFetchException("guest fetch failed: " + e.getMessage(), e);
        } finally {
            deleteTree(work);
            try {
                Runtime.getRuntime().removeShutdownHook(cleanupOnExit);
            } catch (IllegalStateException shuttingDown) {
                // The hook runs anyway; deleting twice is harmless.
            }
        }
    }

    /** The version is the package name minus "linux-image-"; checked against the vmlinuz actually unpacked. */
    private static String kernelVersion(Path unpacked, String kernelPackage) {
        String version = kernelPackage.substring(kernelPackage.indexOf("linux-image-") + "linux-image-".length());
        if (!Files.isRegularFile(unpacked.resolve("boot/vmlinuz-" + version))) {
            throw new GuestFetchException(kernelPackage + " did not contain /boot/vmlinuz-" + version);
        }
        return version;
    }

    /**
     * Debian generates modules.dep at install time, not in the package; without it the guest's modprobe
     * cannot resolve dependencies. Needs the host's depmod (kmod); skipped with a note if there is none.
     */
    private static void indexModules(Path unpacked, String version, PrintStream progress) {
        if (!Files.isDirectory(unpacked.resolve("lib/modules/" + version + "/kernel"))) return;
        Path depmod = Stream.of("/usr/sbin/depmod", "/sbin/depmod").map(Path::of).filter(Files::isExecutable).findFirst().orElse(null);
        if (depmod == null) {
            progress.println("flint: depmod not found (install kmod): guest modules are not indexed");
            return;
        }
        HostCommand.run(null, null, depmod.toString(), "-b", unpacked.toString(), version);
    }

    private Properties manifest() {
        if (!isFetched()) throw new GuestFetchException("the guest is not fetched yet: run 'flint guest fetch'");
        Properties p = new Properties();
        try (InputStream in = Files.newInputStream(root().resolve(MANIFEST))) {
            p.load(in);
        } catch (IOException e) {
            throw new GuestFetchException("cannot read " + root().resolve(MANIFEST) + ": " + e.getMessage(), e);
        }
        return p;
    }

    public String kernelVersion() { return manifest().getProperty("kernel.version"); }

    /** The stock kernel (a bzImage). */
    public Path kernel() { return root().resolve("boot/vmlinuz-" + kernelVersion()); }

    /** The kernel's modules: {@code lib/modules/VERSION} (Debian 12 keeps them under /lib). */
    public Path modulesDir() {
        String version = kernelVersion();
        Path lib = root().resolve("lib/modules/" + version);
        return Files.isDirectory(lib) ? lib : root().resolve("usr/lib/modules/" + version);
    }

    public Path busybox() {
        manifest();
        return root().resolve("bin/busybox");
    }

    /**
     * The default initramfs (busybox shell on the console, virtio modules loaded); built on first use and
     * after a re-fetch.
     */
    public Path defaultInitrd() {
        Path busybox = busybox();
        Path modules = modulesDir();
        boolean haveVirtio = Stream.concat(Initramfs.VIRTIO_MODULES.stream(), Initramfs.ROOT_FS_MODULES.stream())
                .allMatch(m -> Files.isRegularFile(modules.resolve(m)));
        InitramfsBuilder shell = Initramfs.busyboxShell(busybox, haveVirtio ? modules : null);
        // Named after its content, so a Flint whose /init changed never boots an initramfs an older one cached.
        Path initrd = cacheDir.resolve("initrd/shell-virtio-" + shell.fingerprint() + ".cpio.gz");
        try {
            if (!Files.isRegularFile(initrd)
                    || Files.getLastModifiedTime(initrd).compareTo(Files.getLastModifiedTime(root().resolve(MANIFEST))) < 0) {
                shell.write(initrd);
            }
        } catch (IOException e) {
            throw new GuestFetchException("cannot build the default initramfs " + initrd + ": " + e.getMessage(), e);
        }
        return initrd;
    }

    /** Best effort: a leftover temporary folder is harmless (it never looks fetched), a masked error is not. */
    private static void deleteTree(Path dir) {
        if (!Files.exists(dir)) return;
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException | UncheckedIOException e) {
            LOG.log(Level.WARNING, "cannot remove the temporary folder " + dir + ": " + e.getMessage());
        }
    }
}
