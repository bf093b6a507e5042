package dev.flint.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.api.generated.model.Balloon;
import dev.flint.api.generated.model.BalloonStats;
import dev.flint.api.generated.model.BalloonUpdate;
import dev.flint.api.generated.model.BootSource;
import dev.flint.api.generated.model.InstanceActionInfo;
import dev.flint.api.generated.model.MachineConfiguration;
import dev.flint.boot.FlintProcess;
import dev.flint.guest.GuestAssets;
import dev.flint.guest.Initramfs;
import dev.flint.testing.Await;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * The balloon with Debian's stock kernel and its own virtio_balloon module, on either engine, driven as Firecracker
 * users drive it: the guest first dirties most of its memory and frees it again, then {@code PATCH /balloon}
 * inflates the balloon, its {@code actual} reaches the target, and the host memory behind the guest's RAM
 * (the resident size of the VMM's guest-memory mapping, from /proc/PID/smaps) drops by at least what the
 * guest had dirtied and handed over; deflating brings {@code actual} back to 0, and the guest's statistics
 * follow both. {@link BalloonGuestTest} runs it on emu, the nested KVM run ({@code dev.flint.nested.KvmGuestTest})
 * on kvm, where the pages given back must also leave KVM's memory slot.
 */
public final class BalloonGuest {
    private BalloonGuest() {}

    /** An unusual size, so the guest-memory mapping is the only one of it in the VMM's address space. */
    private static final long MEMORY_MIB = 296;
    /** What the guest dirties (one dd buffer, freed when dd exits) and the balloon's target. */
    private static final long FILL_MIB = 176, TARGET_MIB = 200;
    private static final Duration GUEST = Duration.ofMinutes(10), STEP = Duration.ofMinutes(5);

    public static void run(String engine, Path dir) throws Exception {
        GuestAssets assets = GuestAssets.open(GuestAssets.defaultCacheDir());
        assets.fetch(System.out);
        Path initrd = dir.resolve("initrd.cpio.gz");
        Initramfs.busyboxShell(assets.busybox(), assets.modulesDir()).write(initrd);
        Path socket = dir.resolve("api.sock");
        try (FlintProcess flint = FlintProcess.start("vmm", "--api-sock", socket.toString(), "--engine", engine)) {
            Await.until("the API socket exists", Duration.ofMinutes(3), () -> Files.exists(socket));
            try (UnixSocketClient client = new UnixSocketClient(socket)) {
                assertEquals(204, client.send("PUT", "/boot-source", new BootSource().kernelImagePath(assets.kernel().toString())
                        .initrdPath(initrd.toString()).bootArgs("console=ttyS0 reboot=k panic=-1")).status());
                assertEquals(204, client.send("PUT", "/machine-config",
                        new MachineConfiguration().vcpuCount(1).memSizeMib((int) MEMORY_MIB)).status());
                assertEquals(204, client.send("PUT", "/balloon",
                        new Balloon().amountMib(0).deflateOnOom(true).statsPollingIntervalS(1)).status());
                assertEquals(204, client.send("PUT", "/actions",
                        new InstanceActionInfo().actionType(InstanceActionInfo.ActionTypeEnum.INSTANCE_START)).status());
                flint.await("Flint guest: busybox", GUEST);
                flint.type("grep -c virtio_balloon /proc/modules; ls /sys/bus/virtio/drivers/virtio_balloon");
                // Statistics arriving show the guest's driver runs the device (and the stats queue works).
                BalloonStats first = stats(client, "the guest's first statistics", s -> s.getTotalMemory() != null);
                assertTrue(first.getTotalMemory() > (MEMORY_MIB - 64) << 20 && first.getTotalMemory() <= MEMORY_MIB << 20,
                        "total_memory " + first.getTotalMemory());

                // The guest dirties most of its RAM (dd's buffer) and frees it again: the host keeps those pages.
                flint.type("dd if=/dev/zero of=/dev/null bs=" + FILL_MIB + "M count=1 2>/dev/null && echo FILLED-$((6*7))");
                flint.await("FILLED-42", STEP);
                long before = guestRamRssKib(flint.pid());
                long vmRssBefore = vmRssKib(flint.pid());
                assertTrue(before > FILL_MIB * 1024, "the dirtied pages are resident: " + before + " KiB");

                assertEquals(204, client.send("PATCH", "/balloon", new BalloonUpdate().amountMib((int) TARGET_MIB)).status());
                BalloonStats inflated = stats(client, "actual reaches the target", s -> s.getActualMib() == TARGET_MIB);
                assertEquals(TARGET_MIB * 256, inflated.getTargetPages().longValue());
                assertEquals(TARGET_MIB, client.get("/balloon").as(Balloon.class).getAmountMib().longValue());
                long after = guestRamRssKib(flint.pid());
                long vmRssAfter = vmRssKib(flint.pid());
                System.out.printf("balloon: guest RAM mapping RSS %d -> %d KiB, VmRSS %d -> %d KiB (%d MiB inflated)%n",
                        before, after, vmRssBefore, vmRssAfter, TARGET_MIB);
                // The balloon took TARGET MiB of the guest's free pages, of which at most MEMORY - FILL were never
                // touched; the rest were resident and must have gone back to the host.
                assertTrue(before - after >= (TARGET_MIB + FILL_MIB - MEMORY_MIB) * 1024,
                        "the guest RAM's resident size fell by " + (before - after) + " KiB");
                stats(client, "the guest's statistics see the inflated balloon",
                        s -> s.getFreeMemory() != null && s.getFreeMemory() < (MEMORY_MIB - TARGET_MIB) << 20);

                assertEquals(204, client.send("PATCH", "/balloon", new BalloonUpdate().amountMib(0)).status());
                stats(client, "actual back to 0", s -> s.getActualMib() == 0);
                stats(client, "the guest's statistics see the memory back",
                        s -> s.getFreeMemory() != null && s.getFreeMemory() > (TARGET_MIB - 20) << 20);
                // The guest uses the deflated pages again.
                flint.type("dd if=/dev/zero of=/dev/null bs=" + FILL_MIB + "M count=1 2>/dev/null && echo REFILLED-$((6*7))");
                flint.await("REFILLED-42", STEP);

                flint.type("poweroff -f");
                assertEquals(0, flint.exitCode(Duration.ofMinutes(2)));
            }
        }
    }

    /** Polls GET /balloon/statistics until {@code condition} holds; returns that answer. */
    private static BalloonStats stats(UnixSocketClient client, String what, Predicate<BalloonStats> condition) {
        BalloonStats[] last = new BalloonStats[1];
        Await.until(what, STEP, () -> {
            var reply = client.get("/balloon/statistics");
            assertEquals(200, reply.status(), reply.body());
            last[0] = reply.as(BalloonStats.class);
            return condition.test(last[0]);
        });
        return last[0];
    }

    /** The resident KiB of the VMM's guest-memory mapping: the one mapping of exactly the guest's size. */
    static long guestRamRssKib(long pid) throws IOException {
        List<String> lines = Files.readAllLines(Path.of("/proc/" + pid + "/smaps"));
        List<Long> matches = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            if (!lines.get(i).startsWith("Size:") || kib(lines.get(i)) != MEMORY_MIB * 1024) continue;
            for (int j = i + 1; j < lines.size() && j < i + 6; j++) {
                if (lines.get(j).startsWith("Rss:")) matches.add(kib(lines.get(j)));
            }
        }
        assertEquals(1, matches.size(), "one mapping of " + MEMORY_MIB + " MiB in the VMM: " + matches);
        return matches.getFirst();
    }

    static long vmRssKib(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmRSS:")) return kib(line);
        }
        throw new AssertionError("no VmRSS in /proc/" + pid + "/status");
    }

    private static long kib(String line) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
    }
}
