package dev.flint.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.flint.api.generated.model.BootSource;
import dev.flint.api.generated.model.InstanceActionInfo;
import dev.flint.api.generated.model.MachineConfiguration;
import dev.flint.boot.FlintProcess;
import dev.flint.guest.GuestAssets;
import dev.flint.testing.Await;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * vsock with Debian's stock kernel and its own vsock modules, for either engine, driven as Firecracker users do:
 * {@code PUT /vsock}, then streams both ways at once. The guest side is a small static C program
 * (src/test/resources/vsock/vsock-probe.c, built here with {@code gcc -static}; skipped without gcc and a
 * static libc): it echoes host-initiated streams ({@code CONNECT 5000}), and opens its own streams to
 * CID 2 that Flint carries to the host's {@code uds_path_6000}, where this test echoes them.
 */
public final class VsockGuest {
    /** Echoed bytes the host has read back so far: shown when a stream does not finish in time. */
    private static final java.util.concurrent.atomic.AtomicLong PROGRESS = new java.util.concurrent.atomic.AtomicLong();
    private static final int STREAMS = 4, BYTES = 150_000;

    private VsockGuest() {}

    public static void run(String engine, Path dir) throws Exception {
        Path probe = compileProbe(dir);
        GuestAssets assets = GuestAssets.open(GuestAssets.defaultCacheDir());
        assets.fetch(System.out);
        Path initrd = withProbe(assets.defaultInitrd(), probe, dir);
        long t0 = System.nanoTime();
        Path socket = dir.resolve("api.sock"), uds = dir.resolve("v.sock");

        ExecutorService pool = Executors.newCachedThreadPool();
        try (ServerSocketChannel hostService = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
             FlintProcess flint = FlintProcess.start("vmm", "--api-sock", socket.toString(), "--engine", engine)) {
            hostService.bind(UnixDomainSocketAddress.of(Path.of(uds + "_6000")));
            pool.submit(() -> echoServer(hostService, pool));
            Await.until("the API socket exists", Duration.ofMinutes(3), () -> Files.exists(socket));
            try (UnixSocketClient client = new UnixSocketClient(socket)) {
                assertEquals(204, client.send("PUT", "/boot-source", new BootSource().kernelImagePath(assets.kernel().toString())
                        .initrdPath(initrd.toString()).bootArgs("console=ttyS0 reboot=k panic=-1")).status());
                assertEquals(204, client.send("PUT", "/machine-config", new MachineConfiguration().vcpuCount(1).memSizeMib(256)).status());
                var bad = client.sendRaw("PUT", "/vsock", "{\"guest_cid\": 2, \"uds_path\": \"" + uds + "\"}");
                assertEquals(400, bad.status(), bad.body());
                var put = client.sendRaw("PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"" + uds + "\"}");
                assertEquals(204, put.status(), put.body());
                assertTrue(client.get("/vm/config").body().contains("\"guest_cid\":3"), client.get("/vm/config").body());
                assertEquals(204, client.send("PUT", "/actions",
                        new InstanceActionInfo().actionType(InstanceActionInfo.ActionTypeEnum.INSTANCE_START)).status());
                flint.await("Flint guest: busybox", Duration.ofMinutes(10));
                assertTrue(Files.exists(uds), "Flint listens on uds_path");
                t0 = phase(engine, "booted", t0);

                flint.type("vsock-probe listen 5000 &");
                flint.await("vsock-probe: listening on 5000", Duration.ofMinutes(2));
                // Host-initiated: several streams at once, each echoed in full by the guest.
                List<Future<byte[]>> echoes = new ArrayList<>();
                List<byte[]> sent = new ArrayList<>();
                for (int i = 0; i < STREAMS; i++) {
                    byte[] data = new byte[BYTES];
                    new java.util.Random(i).nextBytes(data);
                    sent.add(data);
                    echoes.add(pool.submit(() -> hostStream(uds, 5000, data, pool)));
                }
                for (int i = 0; i < STREAMS; i++) {
                    try {
                        assertArrayEquals(sent.get(i), echoes.get(i).get(5, TimeUnit.MINUTES), "stream " + i);
                    } catch (java.util.concurrent.TimeoutException e) {
                        throw new AssertionError("stream " + i + " not echoed in time; " + PROGRESS.get() + " bytes echoed so far");
                    }
                }

                t0 = phase(engine, STREAMS + " host-initiated streams echoed", t0);
                // Guest-initiated: the guest's streams to CID 2 port 6000 reach uds_path_6000.
                flint.type("vsock-probe connect 6000 " + STREAMS + " " + BYTES);
                flint.await("vsock-probe: " + STREAMS + " of " + STREAMS + " streams echoed", Duration.ofMinutes(5));
                t0 = phase(engine, STREAMS + " guest-initiated streams echoed", t0);

                // Nothing listens on port 7000 of the host: the guest's connect is refused (RST), not left hanging.
                flint.type("vsock-probe connect 7000 1 10");
                flint.await("vsock-probe: 0 of 1 streams echoed", Duration.ofMinutes(2));
                // A host connection that does not start with CONNECT is closed.
                try (SocketChannel junk = SocketChannel.open(UnixDomainSocketAddress.of(uds))) {
                    junk.write(ByteBuffer.wrap("HELLO\n".getBytes(StandardCharsets.US_ASCII)));
                    assertEquals(-1, junk.read(ByteBuffer.allocate(16)));
                }
                flint.type("poweroff -f");
                assertEquals(0, flint.exitCode(Duration.ofMinutes(2)));
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /** Prints a step's time (the scenario runs in the nested KVM run, whose time is budgeted); returns now. */
    private static long phase(String engine, String step, long since) {
        long now = System.nanoTime();
        System.out.printf("vsock on %s: %s in %.1f s%n", engine, step, (now - since) / 1e9);
        return now;
    }

    /**
     * The default initramfs with the probe added as {@code /bin/vsock-probe}: a second, tiny cpio archive
     * appended to the first, which the kernel unpacks after it (the initramfs format allows any number of
     * concatenated, separately compressed archives). Rebuilding the whole initramfs with its modules would
     * cost tens of seconds in the nested L1.
     */
    private static Path withProbe(Path defaultInitrd, Path probe, Path dir) throws IOException {
        Path extra = dir.resolve("probe.cpio.gz"), initrd = dir.resolve("initrd.cpio.gz");
        new dev.flint.guest.InitramfsBuilder().directory("/bin", 0755).file("/bin/vsock-probe", probe, 0755).write(extra);
        try (var out = Files.newOutputStream(initrd)) {
            Files.copy(defaultInitrd, out);
            Files.copy(extra, out);
        }
        return initrd;
    }

    /** One host-initiated stream: CONNECT, OK, then {@code data} out while its echo comes back. */
    static byte[] hostStream(Path uds, int port, byte[] data, ExecutorService pool) throws Exception {
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(uds))) {
            ch.write(ByteBuffer.wrap(("CONNECT " + port + "\n").getBytes(StandardCharsets.US_ASCII)));
            InputStream in = Channels.newInputStream(ch);
            StringBuilder line = new StringBuilder();
            for (int b; (b = in.read()) != '\n'; ) {
                if (b < 0) throw new AssertionError("stream closed before OK: " + line);
                line.append((char) b);
            }
            assertTrue(line.toString().matches("OK \\d+"), line.toString());
            Future<?> writer = pool.submit(() -> {
                ByteBuffer out = ByteBuffer.wrap(data);
                while (out.hasRemaining()) ch.write(out);
                ch.shutdownOutput();
                return null;
            });
            ByteArrayOutputStream echo = new ByteArrayOutputStream();
            byte[] buf = new byte[8192];
            for (int n; (n = in.read(buf)) > 0; ) {
                echo.write(buf, 0, n);
                PROGRESS.addAndGet(n);
            }
            writer.get(1, TimeUnit.MINUTES);
            return echo.toByteArray();
        }
    }

    /** Echoes every stream the guest opens to port 6000, then half-closes it. */
    private static Void echoServer(ServerSocketChannel server, ExecutorService pool) throws IOException {
        while (true) {
            SocketChannel ch = server.accept();
            pool.submit(() -> {
                try (ch) {
                    ByteBuffer buf = ByteBuffer.allocate(65536);
                    while (ch.read(buf) >= 0) {
                        buf.flip();
                        while (buf.hasRemaining()) ch.write(buf);
                        buf.clear();
                    }
                    ch.shutdownOutput();
                }
                return null;
            });
        }
    }

    static Path compileProbe(Path dir) throws Exception {
        Path source = dir.resolve("vsock-probe.c"), binary = dir.resolve("vsock-probe");
        try (InputStream in = VsockGuest.class.getResourceAsStream("/vsock/vsock-probe.c")) {
            Files.write(source, in.readAllBytes());
        }
        Process gcc;
        try {
            gcc = new ProcessBuilder("gcc", "-static", "-O2", "-o", binary.toString(), source.toString()).redirectErrorStream(true).start();
        } catch (IOException e) {
            assumeTrue(false, "no gcc to build the guest's vsock test program: " + e.getMessage());
            throw e;
        }
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        gcc.getInputStream().transferTo(log);
        assumeTrue(gcc.waitFor() == 0, "gcc -static cannot build the guest's vsock test program (no static libc?): " + log);
        return binary;
    }
}
