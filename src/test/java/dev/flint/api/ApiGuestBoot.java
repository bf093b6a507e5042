package dev.flint.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.api.generated.model.BootSource;
import dev.flint.api.generated.model.Drive;
import dev.flint.api.generated.model.EntropyDevice;
import dev.flint.api.generated.model.InstanceActionInfo;
import dev.flint.api.generated.model.Logger;
import dev.flint.api.generated.model.MachineConfiguration;
import dev.flint.api.generated.model.Metrics;
import dev.flint.boot.FlintProcess;
import dev.flint.guest.GuestAssets;
import dev.flint.testing.Await;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The Firecracker workflow against a real guest, for either engine: {@code flint vmm --boot-timer} in its
 * own process, configured over the socket (logger, metrics, boot source, machine, a drive, entropy), started,
 * answering 50 GETs while the stock kernel boots, the boot timer firing, metrics showing which path the
 * virtio notifications and interrupts took, and SendCtrlAltDel ending it as Firecracker users end a microVM.
 */
public final class ApiGuestBoot {
    private ApiGuestBoot() {}

    private static InstanceActionInfo action(InstanceActionInfo.ActionTypeEnum type) {
        return new InstanceActionInfo().actionType(type);
    }

    /** Boot source and machine configuration for the default guest: 1 vCPU, 256 MiB, console on ttyS0. */
    public static void putDefaultGuest(UnixSocketClient client, GuestAssets assets) throws Exception {
        assertEquals(204, client.send("PUT", "/boot-source", new BootSource()
                .kernelImagePath(assets.kernel().toString()).initrdPath(assets.defaultInitrd().toString())
                .bootArgs("console=ttyS0 reboot=k panic=-1")).status());
        assertEquals(204, client.send("PUT", "/machine-config",
                new MachineConfiguration().vcpuCount(1).memSizeMib(256)).status());
    }

    public static void run(String engine, Path dir) throws Exception {
        GuestAssets assets = GuestAssets.open(GuestAssets.defaultCacheDir());
        assets.fetch(System.out);
        Path socket = dir.resolve("flint.sock");
        Path metrics = dir.resolve("metrics.json");
        Path log = dir.resolve("flint.log");
        Path disk = Files.write(dir.resolve("disk.img"), new byte[1 << 20]);
        try (FlintProcess flint = FlintProcess.start("vmm", "--api-sock", socket.toString(), "--engine", engine,
                "--boot-timer")) {
            Await.until("the API socket exists", Duration.ofMinutes(3), () -> Files.exists(socket)); // minutes when nested
            try (UnixSocketClient client = new UnixSocketClient(socket)) {
                assertEquals(204, client.send("PUT", "/logger", new Logger().logPath(log.toString())
                        .level(Logger.LevelEnum.INFO)).status());
                assertEquals(204, client.send("PUT", "/metrics", new Metrics().metricsPath(metrics.toString())).status());
                putDefaultGuest(client, assets);
                assertEquals(204, client.send("PUT", "/drives/data", new Drive().driveId("data")
                        .pathOnHost(disk.toString()).isRootDevice(false).isReadOnly(true)).status());
                assertEquals(204, client.send("PUT", "/entropy", new EntropyDevice()).status());
                var started = client.send("PUT", "/actions", action(InstanceActionInfo.ActionTypeEnum.INSTANCE_START));
                assertEquals(204, started.status(), started.body());

                // 50 GETs from 10 threads while the kernel boots: every one answered.
                ExecutorService pool = Executors.newFixedThreadPool(10);
                try {
                    List<Future<Integer>> answers = new ArrayList<>();
                    for (int i = 0; i < 50; i++) {
                        String path = List.of("/", "/machine-config", "/vm/config", "/version").get(i % 4);
                        answers.add(pool.submit(() -> client.get(path).status()));
                    }
                    for (Future<Integer> answer : answers) assertEquals(200, answer.get());
                } finally {
                    pool.shutdownNow();
                }

                flint.await("Flint guest: busybox", Duration.ofMinutes(10));
                awaitInFile(log, "Guest-boot-time = ", Duration.ofMinutes(1)); // Firecracker logs it too
                flint.await("Guest-boot-time = ", Duration.ofSeconds(10)); // and --boot-timer shows it on stderr
                assertEquals(204, client.send("PUT", "/actions", action(InstanceActionInfo.ActionTypeEnum.FLUSH_METRICS)).status());
                assertVirtioPaths(engine, metrics, "block");
                var cad = client.send("PUT", "/actions", action(InstanceActionInfo.ActionTypeEnum.SEND_CTRL_ALT_DEL));
                assertEquals(204, cad.status(), cad.body());
            }
            // The guest kernel reboots on Ctrl-Alt-Del; a reboot ends the microVM cleanly, as in Firecracker.
            assertEquals(0, flint.exitCode(Duration.ofMinutes(3)), flint.output());
            assertTrue(flint.output().contains("reboot"), flint.output());
        }
    }

    private static void awaitInFile(Path file, String text, Duration timeout) throws Exception {
        if (!Await.holdsWithin(timeout, () -> Files.exists(file) && Files.readString(file).contains(text))) {
            throw new AssertionError("no '" + text + "' in " + file + " within " + timeout + ":\n"
                    + (Files.exists(file) ? Files.readString(file) : "(no file)"));
        }
    }

    /**
     * Which path the virtio notifications and interrupts of one device (its metrics {@code group}) took,
     * over every metrics line so far. On kvm every notification must have come by ioeventfd and
     * every MSI by irqfd; on emu, which offers no such paths, all through Flint. The device must have seen
     * some of each (the block driver reading the partition table, say).
     */
    static void assertVirtioPaths(String engine, Path metricsFile, String group) throws Exception {
        var totals = MetricsTotals.of(metricsFile, group);
        long eventfd = totals.getOrDefault("notify_eventfd", 0L), mmio = totals.getOrDefault("notify_mmio", 0L),
                routed = totals.getOrDefault("msi_routed", 0L), sent = totals.getOrDefault("msi_sent", 0L);
        String seen = "notify_eventfd=%d notify_mmio=%d msi_routed=%d msi_sent=%d".formatted(eventfd, mmio, routed, sent);
        System.out.println(engine + " virtio " + group + " paths: " + seen);
        boolean kvm = engine.equals("kvm");
        assertTrue((kvm ? eventfd : mmio) > 0 && (kvm ? mmio : eventfd) == 0, group + ": " + seen);
        assertTrue((kvm ? routed : sent) > 0 && (kvm ? sent : routed) == 0, group + ": " + seen);
    }
}
