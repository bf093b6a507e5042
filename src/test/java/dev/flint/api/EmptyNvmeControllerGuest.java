package dev.flint.api;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.flint.boot.FlintProcess;
import dev.flint.guest.GuestAssets;
import dev.flint.testing.Await;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The boot of the NVMe namespace attach guest test (ApiNvmeHotAttachGuestTest; ApiPciHotplugGuestTest boots its
 * own, with a drive in a hot-pluggable slot and {@code flint.hotplug=nvme}): {@code flint vmm} on the emu engine,
 * configured over its API socket with the default guest and one empty NVMe controller for namespaces to be
 * attached to, started and at its shell. The scenario then runs; afterwards the guest powers off and the VMM must
 * exit 0.
 */
final class EmptyNvmeControllerGuest {
    private EmptyNvmeControllerGuest() {}

    /** What a test does with the running guest: its console and the API. */
    interface Scenario {
        void run(FlintProcess flint, UnixSocketClient client) throws Exception;
    }

    /** Boots in {@code dir} (its API socket there), runs {@code scenario}; {@code step} bounds each wait after boot. */
    static void run(Path dir, Duration step, Scenario scenario) throws Exception {
        GuestAssets assets = GuestAssets.open(GuestAssets.defaultCacheDir());
        assets.fetch(System.out);
        Path socket = dir.resolve("flint.sock");
        try (FlintProcess flint = FlintProcess.start("vmm", "--api-sock", socket.toString(), "--engine", "emu")) {
            Await.until("the API socket exists", Duration.ofMinutes(3), () -> Files.exists(socket));
            try (UnixSocketClient client = new UnixSocketClient(socket)) {
                ApiGuestBoot.putDefaultGuest(client, assets);
                assertEquals(204, client.sendRaw("PATCH", "/machine-config", "{\"nvme_controllers\": 1}").status());
                var started = client.sendRaw("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
                assertEquals(204, started.status(), started.body());
                flint.await("Flint guest: busybox", Duration.ofMinutes(10));
                flint.await("# ", step);
                scenario.run(flint, client);
                flint.type("poweroff -f");
                assertEquals(0, flint.exitCode(step), flint.output());
            }
        }
    }
}
