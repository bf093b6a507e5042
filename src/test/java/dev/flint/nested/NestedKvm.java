package dev.flint.nested;

import dev.flint.guest.GuestAssets;
import dev.flint.guest.InitramfsBuilder;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Runs a command on this machine's own file system, but inside a Linux guest ("L1") that has a real,
 * stock KVM: QEMU's software CPU (TCG) emulates AMD SVM, so L1's kvm_amd behaves like KVM on hardware —
 * what this machine's PVM /dev/kvm cannot offer.
 *
 * <p>L1 boots Debian's stock kernel (from {@link GuestAssets}) with an initramfs of busybox and the
 * kernel modules for virtio-9p and KVM, mounts the host's / read-only over 9p at /host, gives it fresh
 * proc/sys/dev and a writable tmpfs on /tmp, and runs the command with {@code chroot /host}. The command's
 * output and exit status come back over the serial console between two marker lines.
 *
 * <p>L1 mounts its own tmpfs on /tmp; the folders under the host's /tmp that this run needs (the checkout,
 * the class path, the guest cache, the work folder) are bound back read-only, see {@link #hostTmpFoldersNeeded()}.
 */
public final class NestedKvm {
    /**
     * Modules of the stock kernel L1 needs, dependencies first (virtio-pci transport, 9p, KVM, then tun for
     * the TAP devices of the network tests; network namespaces are built in).
     */
    static final List<String> MODULES = List.of(
            "kernel/drivers/virtio/virtio_ring", "kernel/drivers/virtio/virtio",
            "kernel/drivers/virtio/virtio_pci_legacy_dev", "kernel/drivers/virtio/virtio_pci_modern_dev",
            "kernel/drivers/virtio/virtio_pci", "kernel/net/9p/9pnet", "kernel/net/9p/9pnet_virtio",
            "kernel/fs/netfs/netfs", "kernel/fs/fscache/fscache", "kernel/fs/9p/9p", "kernel/virt/lib/irqbypass",
            "kernel/drivers/crypto/ccp/ccp", "kernel/arch/x86/kvm/kvm", "kernel/arch/x86/kvm/kvm-amd",
            "kernel/drivers/net/tun");

    private static final String BEGIN = "@@NESTED-BEGIN@@";
    private static final Pattern END = Pattern.compile("@@NESTED-END rc=(\\d+)@@");

    /**
     * L1's /init: the same kernel file systems for L1 itself and, later, for the host tree it chroots
     * into (whose own /proc etc. are just empty directories over 9p), modules, the 9p mount, the command.
     */
    private static final String INIT = """
            #!/bin/busybox sh
            /bin/busybox --install -s /bin
            export PATH=/bin
            mkdir -p /proc /sys /host
            kernel_fs() { mount -t proc proc $1/proc; mount -t sysfs sysfs $1/sys; mount -t devtmpfs devtmpfs $1/dev; }
            kernel_fs ""
            for m in $(cat /modules.list); do insmod /modules/$m.ko || echo "L1: insmod $m failed"; done
            mount -t 9p -o trans=virtio,version=9p2000.L,ro host /host || echo "L1: 9p mount failed"
            kernel_fs /host
            # A bare devtmpfs has no /dev/fd; bash process substitution (bin/flint's launcher) needs it.
            ln -s /proc/self/fd /host/dev/fd
            # A tmpfs hides the host's /tmp; the folders under it this run needs (a checkout under /tmp,
            # say) are bound back, read-only, from a view of the share's /tmp kept aside first.
            mkdir -p /host-tmp && mount -o bind /host/tmp /host-tmp
            mount -t tmpfs -o mode=1777 tmpfs /host/tmp
            mount -t tmpfs tmpfs /host/run
            for d in $(cat /keep.list); do mkdir -p /host/tmp/$d && mount -o bind /host-tmp/$d /host/tmp/$d; done
            cp /command.sh /host/tmp/.nested-command.sh
            echo "@@NESTED-BEGIN@@"
            chroot /host /usr/bin/env -i HOME=/tmp TERM=dumb \\
                PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
                /bin/sh /tmp/.nested-command.sh </dev/null 2>&1
            echo "@@NESTED-END rc=$?@@"
            poweroff -f
            """;

    private final GuestAssets assets;
    private final Path workDir;
    private final int memoryMib;

    private NestedKvm(GuestAssets assets, Path workDir, int memoryMib) {
        this.assets = assets;
        this.workDir = workDir;
        this.memoryMib = memoryMib;
    }

    /**
     * Gets everything L1 needs: the guest kernel and busybox (fetched into Flint's cache if missing) and
     * QEMU (installed with apt-get if missing; the test machines run as root).
     */
    public static NestedKvm prepare(Path workDir) throws IOException, InterruptedException {
        installIfMissing("qemu-system-x86_64", "qemu-system-x86");
        GuestAssets assets = GuestAssets.open(GuestAssets.defaultCacheDir());
        assets.fetch(System.err);
        Files.createDirectories(workDir);
        return new NestedKvm(assets, workDir, 2048);
    }

    public GuestAssets assets() { return assets; }

    /**
     * The JIT setting for every JVM in L1. Under TCG the C2 compiler's work costs more than it saves in the
     * short runs there: {@code flint run --engine kvm} to the marker took 40 s with it, 30 s without.
     */
    static final String JIT_IN_L1 = "-XX:TieredStopAtLevel=1";

    /**
     * The start of a shell command running this run's Java code in L1: the JDK running these tests (the
     * host's / is L1's /host, so the same path works under chroot) with {@link #JIT_IN_L1}, native access and
     * this run's class path; {@code FLINT_JAVA_OPTS} (read by bin/flint and the tests' {@code FlintProcess})
     * gives the Flint processes the tests start the same JIT setting. Append the main class and arguments.
     */
    public static String javaInL1() {
        return String.join(" ", "FLINT_JAVA_OPTS=" + JIT_IN_L1, Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                JIT_IN_L1, "--enable-native-access=ALL-UNNAMED", "-cp", testClassPath());
    }

    /**
     * The class path of this test run (Surefire passes the real one in {@code surefire.test.class.path};
     * its own launcher jar only points at it).
     */
    public static String testClassPath() {
        return System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    }

    private static void installIfMissing(String tool, String pkg) throws IOException, InterruptedException {
        for (String dir : System.getenv("PATH").split(":")) {
            if (Files.isExecutable(Path.of(dir, tool))) return;
        }
        Process p = new ProcessBuilder("apt-get", "install", "-y", "-q", pkg).inheritIO().start();
        if (p.waitFor() != 0) throw new IOException("apt-get install " + pkg + " failed");
    }

    /** What a command printed inside L1 and how it exited; {@code console} is L1's whole serial output. */
    public record Result(int exitStatus, String output, String console) {
        public boolean ok() { return exitStatus == 0; }
    }

    /**
     * Boots L1, runs {@code command} (a shell script) in {@code chroot /host}, returns its output and exit
     * status. Fails if L1 does not report back within {@code timeout}.
     */
    public Result run(String command, Duration timeout) throws IOException, InterruptedException {
        Path initrd = Files.createTempFile(workDir, "l1-", ".cpio.gz");
        try {
            l1Initramfs(command).write(initrd);
            return boot(initrd, timeout);
        } finally {
            Files.deleteIfExists(initrd);
        }
    }

    /**
     * Runs several commands one after the other in a single L1 boot (each boot of L1 costs tens of seconds
     * under TCG) and returns each one's own output and exit status, by name, in the order given. Every part's
     * {@link Result#console()} is L1's whole serial output. L1 failing or timing out throws as in {@link #run}; a
     * part whose end line did not come back is missing from the map, and the caller says which.
     */
    public Map<String, Result> runEach(SequencedMap<String, String> commands, Duration timeout)
            throws IOException, InterruptedException {
        StringBuilder script = new StringBuilder();
        for (var e : commands.entrySet()) {
            if (!e.getKey().matches("[A-Za-z0-9_.-]+")) throw new IllegalArgumentException("part name: " + e.getKey());
            // A subshell each: one part's exit or cd does not end or move the next.
            script.append("echo '@@PART ").append(e.getKey()).append("@@'\n(\n").append(e.getValue().strip())
                    .append("\n) 2>&1\necho \"@@PART-END rc=$?@@\"\n");
        }
        Result all = run(script.toString(), timeout);
        Map<String, Result> parts = new LinkedHashMap<>();
        Matcher part = PART.matcher(all.output());
        while (part.find()) {
            parts.put(part.group(1), new Result(Integer.parseInt(part.group(3)), part.group(2).strip(), all.console()));
        }
        return parts;
    }

    private static final Pattern PART = Pattern.compile("@@PART ([A-Za-z0-9_.-]+)@@\n(.*?)@@PART-END rc=(\\d+)@@", Pattern.DOTALL);

    /**
     * Top-level folders under the host's /tmp that hold something this run uses inside L1: a CI checkout
     * in /tmp must work as well as one anywhere else.
     */
    private List<String> hostTmpFoldersNeeded() {
        java.util.stream.Stream<String> used = Stream.concat(
                Stream.of(System.getProperty("user.dir"), workDir.toString(),
                        assets.cacheDir().toString()),
                Arrays.stream(testClassPath().split(File.pathSeparator)));
        return used.map(s -> Path.of(s).toAbsolutePath().normalize())
                .filter(p -> p.getNameCount() >= 2 && p.startsWith("/tmp"))
                .map(p -> p.getName(1).toString())
                .distinct().toList();
    }

    private InitramfsBuilder l1Initramfs(String command) {
        // Only what the kernel needs before /init runs (busybox, a console); /init makes the rest.
        InitramfsBuilder b = new InitramfsBuilder()
                .directory("/bin", 0755)
                .file("/bin/busybox", assets.busybox(), 0755)
                .directory("/dev", 0755)
                .charDevice("/dev/console", 0600, 5, 1)
                .directory("/modules", 0755)
                .file("/modules.list", String.join("\n", MODULES.stream().map(m -> m.replace('/', '_')).toList()) + "\n", 0644)
                .file("/keep.list", String.join("\n", hostTmpFoldersNeeded()) + "\n", 0644)
                .file("/command.sh", command, 0755)
                .file("/init", INIT, 0755);
        for (String m : MODULES) {
            b.file("/modules/" + m.replace('/', '_') + ".ko", assets.modulesDir().resolve(m + ".ko"), 0644);
        }
        return b;
    }

    private Result boot(Path initrd, Duration timeout) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder("qemu-system-x86_64", "-accel", "tcg", "-M", "q35",
                "-cpu", "EPYC,+svm,+npt", "-smp", "1", "-m", Integer.toString(memoryMib),
                "-nodefaults", "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot",
                "-kernel", assets.kernel().toString(), "-initrd", initrd.toString(),
                "-append", "console=ttyS0 quiet panic=-1",
                "-virtfs", "local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap")
                .redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        Process qemu = pb.start();
        CompletableFuture<String> console = CompletableFuture.supplyAsync(() -> readAll(qemu.getInputStream()));
        try {
            if (!qemu.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                qemu.destroyForcibly().waitFor();
                throw new AssertionError("L1 did not finish within " + timeout + "; console:\n" + console.join());
            }
        } finally {
            if (qemu.isAlive()) qemu.destroyForcibly().waitFor();
        }
        String text = console.join().replace("\r", "");
        int begin = text.indexOf(BEGIN);
        Matcher end = END.matcher(text);
        if (begin < 0 || !end.find(begin)) {
            throw new AssertionError("L1 did not run the command (QEMU exit " + qemu.exitValue() + "); console:\n" + text);
        }
        String output = text.substring(begin + BEGIN.length(), end.start()).strip();
        return new Result(Integer.parseInt(end.group(1)), output, text);
    }

    private static String readAll(InputStream in) {
        try {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
