package dev.flint.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.boot.FlintProcess;
import dev.flint.guest.GuestAssets;
import dev.flint.testing.Await;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The stock guest's disk throughput follows the drive's rate limiter, on the emu engine: {@code flint vmm}
 * boots with a 1 MiB/s bandwidth limit on /dev/vda (PUT /drives), the guest reads 11 MiB with O_DIRECT and the
 * time it takes is what the limit allows within 10 %; a PATCH to 2 MiB/s while it runs makes the next 22 MiB
 * take what the new limit allows. The limits are far below what emu reads unthrottled even on a loaded host
 * (the test prints that figure), so the limiter, not the CPU, sets the pace; the times are the guest's own
 * (/proc/uptime), so console latency does not count.
 */
@Tag("guest")
class ApiRateLimitGuestTest {
    private static final Duration STEP = Duration.ofMinutes(3);
    private static final long MIB = 1 << 20;
    private static final Pattern UPTIMES = Pattern.compile("RATE-(\\w+) ([0-9.]+) ([0-9.]+)");

    /**
     * A bucket of one second's worth, refilled every second: {@code bytesPerSecond} on average, the usual
     * Firecracker form. It holds several requests, so a late wake-up of a loaded host's I/O thread does not
     * cost throughput (tokens keep coming while the bucket is not full).
     */
    private static String bandwidth(long bytesPerSecond) {
        return "{\"bandwidth\": {\"size\": " + bytesPerSecond + ", \"refill_time\": 1000}}";
    }

    /**
     * Reads {@code mib} MiB from /dev/vda at {@code skipMib} with O_DIRECT (no page cache, no read-ahead) in
     * 128 KiB requests; returns the guest's seconds.
     */
    private static double timedRead(FlintProcess flint, String label, int skipMib, int mib) throws Exception {
        flint.type("a=$(cut -d' ' -f1 /proc/uptime); dd if=/dev/vda of=/dev/null bs=128k skip=" + skipMib * 8 + " count=" + mib * 8
                + " iflag=direct 2>/dev/null; b=$(cut -d' ' -f1 /proc/uptime); echo RATE-" + label + " $a $b");
        Matcher m = Await.value("the guest's timing line RATE-" + label, STEP, () -> {
            Matcher found = UPTIMES.matcher(flint.output());
            while (found.find()) if (found.group(1).equals(label)) return found;
            return null;
        });
        double seconds = Double.parseDouble(m.group(3)) - Double.parseDouble(m.group(2));
        System.out.printf("rate limit guest test: %d MiB (%s) in %.2f s%n", mib, label, seconds);
        return seconds;
    }

    private static void assertWithinTenPercent(double expected, double actual, String what) {
        assertTrue(Math.abs(actual - expected) <= 0.1 * expected,
                what + ": " + actual + " s, expected " + expected + " s within 10 %");
    }

    @Test
    void theGuestsDiskThroughputFollowsTheLimitAndAPatchChangesIt(@TempDir Path dir) throws Exception {
        GuestAssets assets = GuestAssets.open(GuestAssets.defaultCacheDir());
        assets.fetch(System.out);
        Path disk = dir.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength(50 * MIB);
        }
        Path socket = dir.resolve("flint.sock");
        Path metrics = dir.resolve("metrics.json");
        try (FlintProcess flint = FlintProcess.start("vmm", "--api-sock", socket.toString(), "--engine", "emu")) {
            Await.until("the API socket exists", Duration.ofMinutes(3), () -> Files.exists(socket));
            try (UnixSocketClient client = new UnixSocketClient(socket)) {
                assertEquals(204, client.sendRaw("PUT", "/metrics", "{\"metrics_path\": \"" + metrics + "\"}").status());
                ApiGuestBoot.putDefaultGuest(client, assets);
                var put = client.sendRaw("PUT", "/drives/data", "{\"drive_id\": \"data\", \"path_on_host\": \"" + disk
                        + "\", \"is_root_device\": false, \"is_read_only\": true, \"rate_limiter\": " + bandwidth(MIB) + "}");
                assertEquals(204, put.status(), put.body());
                var started = client.sendRaw("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
                assertEquals(204, started.status(), started.body());
                flint.await("Flint guest: busybox", Duration.ofMinutes(10));
                flint.await("# ", STEP);

                // 11 MiB at 1 MiB/s; the bucket's first second's worth was there at the start: 10 s. Long enough that
                // what is not I/O (starting dd and cut on emu, a few hundred ms on a loaded host) stays well inside 10 %.
                double first = timedRead(flint, "1MiBps", 0, 11);

                var patched = client.sendRaw("PATCH", "/drives/data", "{\"drive_id\": \"data\", \"rate_limiter\": " + bandwidth(2 * MIB) + "}");
                assertEquals(204, patched.status(), patched.body());
                // The PATCH's new bucket starts full too: (22 - 2) MiB at 2 MiB/s, 10 s.
                double second = timedRead(flint, "2MiBps", 12, 22);
                assertWithinTenPercent(10, first, "11 MiB at 1 MiB/s");
                assertWithinTenPercent(10, second, "22 MiB at 2 MiB/s after PATCH");

                // No limit: what emu reads here and now, to show the limits were well below it.
                var lifted = client.sendRaw("PATCH", "/drives/data", "{\"drive_id\": \"data\", \"rate_limiter\": "
                        + "{\"bandwidth\": {\"size\": 0, \"refill_time\": 0}}}");
                assertEquals(204, lifted.status(), lifted.body());
                double free = timedRead(flint, "unlimited", 34, 16);
                System.out.printf("rate limit guest test: unthrottled %.1f MiB/s%n", 16 / Math.max(free, 0.01));

                assertEquals(204, client.sendRaw("PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}").status());
                var block = MetricsTotals.of(metrics, "block");
                assertTrue(block.getOrDefault("rate_limiter_throttled_events", 0L) > 0, "throttling shows in the metrics: " + block);
                flint.type("poweroff -f");
                assertEquals(0, flint.exitCode(STEP), flint.output());
            }
        }
    }
}
