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
import java.util.Optional;
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
 *   initrd/shell-virtio-HASH.cpio.gz the default initramfs (busybox shell, virtio modules), built from debian/
 * </pre>
 * A fetch unpacks into a temporary folder next to {@code debian/} and renames it into place, so an
 * interrupted or failed fetch leaves nothing that looks fetched; a complete one is reused as is.
 */
public final class GuestAssets {
    /**
     * Looked up when used, not held in a static field: `flint --help` initializes this class (for the cache
     * directory) and should not start java.util.logging for it (its start scans every jar for a logger finder).
     */
    private static Logger log() { return Logger.getLogger(GuestAssets.class.getName()); }
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

    /**
     * What {@link #fetch} found or downloaded. {@code archiveKernelPackage} is the kernel package Debian's
     * archive serves now, when the fetch asked the archive ({@link #fetch(PrintStream, boolean)}); it differs
     * from {@code kernelPackage} when the cache holds an older kernel.
     */
    public record Fetched(String kernelPackage, String kernelVersion, Path kernel, boolean downloaded,
                          Optional<String> archiveKernelPackage) {
        /** True when the archive was asked and serves another kernel than the cached one. */
        public boolean outdated() { return archiveKernelPackage.filter(p -> !p.equals(kernelPackage)).isPresent(); }
    }

    public Path cacheDir() { return cacheDir; }

    private Path root() { return cacheDir.resolve("debian"); }

    /** True if a complete fetch is in the cache. */
    public boolean isFetched() { return Files.isRegularFile(root().resolve(MANIFEST)); }

    /**
     * Makes sure the guest is in the cache, downloading and unpacking it if not; a cached guest is used
     * as it is, without asking the archive (what {@code flint run} wants: no network once fetched).
     * Progress lines go to {@code progress}. Fails with a one-line {@link GuestFetchException}.
     */
    public Fetched fetch(PrintStream progress) {
        boolean downloaded = !isFetched();
        if (downloaded) download(progress, false);
        Fetched fetched = cached(progress, downloaded, Optional.empty());
        defaultInitrd();
        return fetched;
    }

    /**
     * {@code flint guest fetch}: like {@link #fetch(PrintStream)}, but a cached guest is compared with the
     * kernel Debian's archive serves now (package lists refreshed when stale, see {@link DebianApt}). An
     * older cached kernel stays in use and the user is told how to update; with {@code update} the newer
     * kernel is downloaded and replaces the cached one only once it is complete. When the archive cannot
     * be asked, a cached guest is still returned (with a note) unless {@code update} was asked for.
     */
    public Fetched fetch(PrintStream progress, boolean update) {
        if (!isFetched()) {
            download(progress, false);
            Fetched fetched = cached(progress, true, Optional.of(manifest().getProperty("kernel.package")));
            defaultInitrd();
            return fetched;
        }
        String cachedPackage = manifest().getProperty("kernel.package");
        String served;
        try {
            served = packages.kernelPackage(progress);
        } catch (GuestFetchException e) {
            if (update) throw e;
            progress.println("flint: cannot ask Debian's archive for its current kernel, using the cached one: " + e.getMessage());
            Fetched fetched = cached(progress, false, Optional.empty());
            defaultInitrd();
            return fetched;
        }
        boolean downloaded = false;
        if (!served.equals(cachedPackage)) {
            if (update) {
                progress.println("flint: Debian's archive serves " + served + "; replacing the cached " + cachedPackage);
                download(progress, true);
                downloaded = true;
            } else {
                progress.println("flint: Debian's archive now serves " + served + "; the cache holds " + cachedPackage
                        + ", which stays in use. 'flint guest fetch --update' fetches the new one.");
            }
        }
        Fetched fetched = cached(progress, downloaded, Optional.of(served));
        defaultInitrd();
        return fetched;
    }

    private Fetched cached(PrintStream progress, boolean downloaded, Optional<String> archiveKernelPackage) {
        Properties manifest = manifest();
        indexIfMissing(progress);
        return new Fetched(manifest.getProperty("kernel.package"), manifest.getProperty("kernel.version"), kernel(),
                downloaded, archiveKernelPackage);
    }

    /**
     * Downloads and unpacks the current guest into a temporary folder, then renames it into place. With
     * {@code replace} an existing guest is moved aside only after the new one is complete (and deleted
     * after), so a failed or interrupted update leaves the old guest as it was.
     */
    private void download(PrintStream progress, boolean replace) {
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
            if (replace && Files.isDirectory(root())) {
                // The new guest is complete: only now does the old one go (into the folder deleted below).
                Files.move(root(), work.resolve("replaced"), StandardCopyOption.ATOMIC_MOVE);
            }
            try {
                Files.move(unpacked, root(), StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | DirectoryNotEmptyException raced) {
                // Another fetch finished first; its copy is as good as ours.
            }
            if (replace) deleteInitrds();
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
     * cannot resolve dependencies. Flint writes it itself ({@link ModuleIndex}), so the host needs no kmod.
     */
    private static void indexModules(Path unpacked, String version, PrintStream progress) throws IOException {
        Path modules = unpacked.resolve("lib/modules/" + version);
        if (!Files.isDirectory(modules)) modules = unpacked.resolve("usr/lib/modules/" + version);
        if (!Files.isDirectory(modules.resolve("kernel"))) return;
        int count = ModuleIndex.write(modules);
        progress.println("flint: indexed " + count + " guest modules (modules.dep)");
    }

    /**
     * A guest fetched by a Flint that indexed modules with the host's depmod, on a host without kmod, has
     * no modules.dep: written now, once.
     */
    private void indexIfMissing(PrintStream progress) {
        Path modules = modulesDir();
        if (!Files.isDirectory(modules.resolve("kernel")) || Files.isRegularFile(modules.resolve("modules.dep"))) return;
        try {
            int count = ModuleIndex.write(modules);
            progress.println("flint: indexed " + count + " guest modules (modules.dep)");
        } catch (IOException e) {
            throw new GuestFetchException("cannot index the guest modules in " + modules + ": " + e.getMessage(), e);
        }
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

    /** The initramfs files built from a replaced kernel's modules; {@link #defaultInitrd} builds the new one. */
    private void deleteInitrds() {
        try (Stream<Path> files = Files.list(cacheDir.resolve("initrd"))) {
            for (Path f : files.filter(f -> f.getFileName().toString().startsWith("shell-virtio-")).toList()) Files.deleteIfExists(f);
        } catch (IOException | UncheckedIOException e) {
            log().log(Level.FINE, "old initramfs files stay: " + e.getMessage());
        }
    }

    /** Best effort: a leftover temporary folder is harmless (it never looks fetched), a masked error is not. */
    private static void deleteTree(Path dir) {
        if (!Files.exists(dir)) return;
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException | UncheckedIOException e) {
            log().log(Level.WARNING, "cannot remove the temporary folder " + dir + ": " + e.getMessage());
        }
    }
}
