package dev.flint.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.flint.api.generated.model.BootSource;
import dev.flint.api.generated.model.InstanceActionInfo;
import dev.flint.api.generated.model.MachineConfiguration;
import dev.flint.boot.FlintProcess;
import dev.flint.guest.GuestAssets;
import dev.flint.sys.SeccompFilter;
import dev.flint.testing.Await;
import java.io.IOException;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code flint jailer} as Firecracker users run it: the Flint VMM jailed under a throw-away chroot base,
 * as an unprivileged uid, booting the default guest on emu through the API socket inside the chroot; a
 * probe inside that VMM (a Java agent) shows a host file outside the chroot, exec and the host's network
 * are out of reach; the cgroup limits are read back from the cgroup files. Needs root, bubblewrap,
 * libseccomp and user namespaces; each missing piece skips with its reason.
 */
class JailerTest {
    private static final int UID = 64123, GID = 64123;
    private Path base;
    private final List<Path> cgroupsToRemove = new ArrayList<>();
    private final String suffix = UUID.randomUUID().toString().substring(0, 8);

    @BeforeEach
    void requireJailPieces() throws IOException {
        assumeTrue("root".equals(System.getProperty("user.name")), "the jailer needs root");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/bwrap")), "bubblewrap (bwrap) is not installed");
        assumeTrue(SeccompFilter.available(), "libseccomp2 is not installed");
        Path userns = Path.of("/proc/sys/user/max_user_namespaces");
        assumeTrue(Files.exists(userns) && Long.parseLong(Files.readString(userns).strip()) > 0, "user namespaces are disabled");
        base = Files.createTempDirectory("flint-jail-");
        Files.setPosixFilePermissions(base, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    @AfterEach
    void cleanUp() throws IOException {
        for (Path cgroup : cgroupsToRemove) {
            // The jail's processes are gone once the jailer returned; the kernel may take a moment to notice.
            Await.holdsWithin(Duration.ofSeconds(30), () -> !Files.exists(cgroup) || Files.readString(cgroup.resolve("cgroup.procs")).isBlank());
            Files.deleteIfExists(cgroup);
            Files.deleteIfExists(cgroup.getParent());
        }
        if (base != null) {
            try (Stream<Path> tree = Files.walk(base)) {
                for (Path p : (Iterable<Path>) tree.sorted(Comparator.reverseOrder())::iterator) Files.deleteIfExists(p);
            }
        }
    }

    @Test
    void jailedVmmBootsTheDefaultGuestAndCannotReachTheHost() throws Exception {
        GuestAssets assets = GuestAssets.open(GuestAssets.defaultCacheDir());
        assets.fetch(System.out);
        String id = "jail-" + suffix;
        Path root = base.resolve("flint").resolve(id).resolve("root");
        Files.createDirectories(root);
        // As Firecracker's users do: what the VMM is given over the API is placed inside the chroot.
        Files.copy(assets.kernel(), root.resolve("vmlinuz"));
        Files.copy(assets.defaultInitrd(), root.resolve("initrd.gz"));
        for (String file : List.of("vmlinuz", "initrd.gz")) { // readable by the jail's user, as Firecracker's docs ask
            Files.setPosixFilePermissions(root.resolve(file), java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        }
        Manifest manifest = new Manifest();
        manifest.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        manifest.getMainAttributes().put(new Attributes.Name("Premain-Class"), JailProbeAgent.class.getName());
        try (OutputStream out = new JarOutputStream(Files.newOutputStream(root.resolve("probe.jar")), manifest)) {
            // the manifest is all: the agent class comes from the jailed class path
        }
        Path hostFile = Files.writeString(base.resolve("host-secret.txt"), "the host's own file");
        List<String> cgroupArgs = memoryLimitArgs(id, 1L << 30);

        try (ServerSocket hostService = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            // The control: from the host, the file reads and the service answers.
            assertEquals("the host's own file", Files.readString(hostFile));
            try (Socket s = new Socket(hostService.getInetAddress(), hostService.getLocalPort())) {
                assertTrue(s.isConnected());
            }
            List<String> args = new ArrayList<>(List.of("jailer", "--id", id, "--uid", "" + UID, "--gid", "" + GID,
                    "--chroot-base-dir", base.toString(), "--parent-cgroup", "flint-test-" + suffix,
                    "--resource-limit", "no-file=4096", "--new-pid-ns"));
            args.addAll(cgroupArgs);
            args.addAll(List.of("--", "--api-sock", "/api.sock", "--engine", "emu"));
            Map<String, String> env = Map.of("FLINT_JAVA_OPTS", "-javaagent:/probe.jar=" + hostFile + "," + hostService.getLocalPort());
            try (FlintProcess jailer = FlintProcess.startWith(env, List.of(), args.toArray(String[]::new))) {
                Path socket = root.resolve("api.sock");
                awaitSocket(jailer, socket);
                assertEquals(Integer.toString(UID), Files.getAttribute(socket, "unix:uid").toString(), "the VMM runs as --uid");

                jailer.await("jail-probe: done", Duration.ofMinutes(2));
                String out = jailer.output();
                assertTrue(out.contains("jail-probe: open failed: java.nio.file.NoSuchFileException: " + hostFile), out);
                assertTrue(out.contains("jail-probe: exec failed: java.io.IOException") && out.contains("(Operation not permitted)"), out);
                assertTrue(out.contains("jail-probe: connect failed: java.net.ConnectException"), out);

                try (UnixSocketClient client = new UnixSocketClient(socket)) {
                    // Paths are the chroot's: the host's copy of the kernel is not there.
                    var outside = client.send("PUT", "/boot-source", new BootSource().kernelImagePath(assets.kernel().toString()));
                    assertEquals(400, outside.status(), outside.body());
                    var inside = client.send("PUT", "/boot-source", new BootSource().kernelImagePath("/vmlinuz")
                            .initrdPath("/initrd.gz").bootArgs("console=ttyS0 reboot=k panic=-1"));
                    assertEquals(204, inside.status(), inside.body());
                    assertEquals(204, client.send("PUT", "/machine-config", new MachineConfiguration().vcpuCount(1).memSizeMib(256)).status());
                    var started = client.send("PUT", "/actions",
                            new InstanceActionInfo().actionType(InstanceActionInfo.ActionTypeEnum.INSTANCE_START));
                    assertEquals(204, started.status(), started.body());
                    jailer.await("Flint guest: busybox", Duration.ofMinutes(10));
                    assertCgroupLimit(id, 1L << 30);
                    assertEquals(204, client.send("PUT", "/actions",
                            new InstanceActionInfo().actionType(InstanceActionInfo.ActionTypeEnum.SEND_CTRL_ALT_DEL)).status());
                }
                assertEquals(0, jailer.exitCode(Duration.ofMinutes(3)), "the jailer returns the VMM's status");
            }
        }
    }

    @Test
    void cgroupV2FilesAreWrittenAndTheJailJoinsTheCgroup() throws Exception {
        Path v2 = mountOf("cgroup2");
        assumeTrue(v2 != null, "no cgroup v2 hierarchy is mounted");
        String id = "jail-" + suffix;
        List<String> args = new ArrayList<>(List.of("jailer", "--id", id, "--uid", "" + UID, "--gid", "" + GID,
                "--chroot-base-dir", base.toString(), "--parent-cgroup", "flint-test-" + suffix, "--cgroup-version", "2",
                "--cgroup", "cgroup.max.descendants=3"));
        boolean memory = Files.readString(v2.resolve("cgroup.controllers")).contains("memory");
        if (memory) args.addAll(List.of("--cgroup", "memory.max=536870912"));
        else System.out.println("cgroup v2 here has no memory controller (" + Files.readString(v2.resolve("cgroup.controllers")).strip()
                + "): checking the core limit only");
        args.addAll(List.of("--", "--api-sock", "/api.sock", "--engine", "emu"));
        Path cgroup = v2.resolve("flint-test-" + suffix).resolve(id);
        cgroupsToRemove.add(cgroup);
        try (FlintProcess jailer = FlintProcess.start(args.toArray(String[]::new))) {
            Path socket = base.resolve("flint").resolve(id).resolve("root/api.sock");
            awaitSocket(jailer, socket);
            assertEquals("3", Files.readString(cgroup.resolve("cgroup.max.descendants")).strip());
            if (memory) assertEquals("536870912", Files.readString(cgroup.resolve("memory.max")).strip());
            long pid = Long.parseLong(Files.readString(base.resolve("flint").resolve(id).resolve("root/flint.pid")).strip());
            assertTrue(Files.readString(cgroup.resolve("cgroup.procs")).lines().anyMatch(l -> l.equals(Long.toString(pid))),
                    "the jailed VMM (pid " + pid + ") is in " + cgroup);
            // SIGTERM to the VMM: its parents reap it and end in turn, so the cgroup empties and can go.
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroy);
            jailer.exitCode(Duration.ofMinutes(1));
        }
    }

    @Test
    void badCommandLinesGetOneLineAndStatus2() throws Exception {
        try (FlintProcess jailer = FlintProcess.start("jailer", "--id", "bad/id", "--uid", "1", "--gid", "1")) {
            assertEquals(2, jailer.exitCode(Duration.ofMinutes(1)));
            assertTrue(jailer.output().contains("flint jailer: --id must be 1 to 64 letters, digits or '-'"), jailer.output());
        }
        try (FlintProcess jailer = FlintProcess.start("jailer", "--id", "x", "--uid", "1", "--gid", "1",
                "--chroot-base-dir", base.toString(), "--cgroup", "../../etc/passwd=1")) {
            assertEquals(2, jailer.exitCode(Duration.ofMinutes(1)));
            assertTrue(jailer.output().contains("not a cgroup file name"), jailer.output());
        }
        assertTrue(Files.list(base).findAny().isEmpty(), "nothing was made for a refused command line");
    }

    private static void awaitSocket(FlintProcess jailer, Path socket) {
        Await.until("the jailed API socket exists", Duration.ofMinutes(3), () -> {
            if (!jailer.isAlive() && !Files.exists(socket)) throw new AssertionError("the jailer ended:\n" + jailer.output());
            return Files.exists(socket);
        });
    }

    /** A memory limit where this host has one: v2's memory.max, else v1's memory.limit_in_bytes; none: no args. */
    private List<String> memoryLimitArgs(String id, long bytes) throws IOException {
        Path v2 = mountOf("cgroup2");
        if (v2 != null && Files.readString(v2.resolve("cgroup.controllers")).contains("memory")) {
            cgroupsToRemove.add(v2.resolve("flint-test-" + suffix).resolve(id));
            return List.of("--cgroup-version", "2", "--cgroup", "memory.max=" + bytes);
        }
        Path v1 = mountOf("memory");
        if (v1 != null) {
            cgroupsToRemove.add(v1.resolve("flint-test-" + suffix).resolve(id));
            return List.of("--cgroup-version", "1", "--cgroup", "memory.limit_in_bytes=" + bytes);
        }
        System.out.println("no memory cgroup controller on this host: the jail runs without a memory limit");
        return List.of();
    }

    private void assertCgroupLimit(String id, long bytes) throws IOException {
        for (Path cgroup : cgroupsToRemove) {
            Path file = cgroup.resolve(Files.exists(cgroup.resolve("memory.max")) ? "memory.max" : "memory.limit_in_bytes");
            assertEquals(Long.toString(bytes), Files.readString(file).strip(), file.toString());
            assertTrue(!Files.readString(cgroup.resolve("cgroup.procs")).isBlank(), "the jail's processes are in " + cgroup);
        }
    }

    /** The mount point of a cgroup2 hierarchy ("cgroup2") or of the v1 hierarchy holding a controller. */
    private static Path mountOf(String what) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/mounts"))) {
            String[] f = line.split(" ");
            if (f.length < 4) continue;
            if (what.equals("cgroup2") ? f[2].equals("cgroup2") : f[2].equals("cgroup") && List.of(f[3].split(",")).contains(what)) {
                return Path.of(f[1]);
            }
        }
        return null;
    }
}
