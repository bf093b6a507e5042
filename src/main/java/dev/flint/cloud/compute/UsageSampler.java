package dev.flint.cloud.compute;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Keeps a few minutes of each running instance's resource use, from what the host already counts for its
 * VMM: CPU time in {@code /proc/PID/stat}, storage bytes in {@code /proc/PID/io} (what the VMM made the disk
 * layer read and write for the guest's volumes) and the TAP's counters (the TAP transmits what the guest
 * receives). Nothing is asked of the VMM itself, so sampling costs the guest nothing.
 */
final class UsageSampler {
    static final long INTERVAL_MILLIS = 2_000;
    /** Five minutes at the interval. */
    private static final int KEPT = 150;
    /** Linux reports CPU times in USER_HZ, which is 100 on every architecture Flint runs on. */
    private static final double TICKS_PER_SECOND = 100;

    private record Last(long epochMillis, long cpuTicks) {}

    private final Map<String, ArrayDeque<InstanceRuntime.UsageSample>> samples = new ConcurrentHashMap<>();
    private final Map<String, Last> last = new ConcurrentHashMap<>();

    /** Takes a sample of {@code instanceId} if the interval has passed since its previous one. */
    void maybeSample(String instanceId, long pid, String tap, long nowMillis) {
        Last previous = last.get(instanceId);
        if (previous != null && nowMillis - previous.epochMillis() < INTERVAL_MILLIS) return;
        long ticks = cpuTicks(pid);
        if (ticks < 0) return; // the process just ended
        double cpu = previous == null ? 0
                : 100.0 * (ticks - previous.cpuTicks()) / TICKS_PER_SECOND / ((nowMillis - previous.epochMillis()) / 1000.0);
        last.put(instanceId, new Last(nowMillis, ticks));
        Path io = Path.of("/proc", Long.toString(pid), "io");
        Path net = Path.of("/sys/class/net", tap, "statistics");
        InstanceRuntime.UsageSample sample = new InstanceRuntime.UsageSample(nowMillis, Math.max(0, cpu),
                field(io, "read_bytes:"), field(io, "write_bytes:"),
                counter(net.resolve("tx_bytes")), counter(net.resolve("rx_bytes")));
        ArrayDeque<InstanceRuntime.UsageSample> kept = samples.computeIfAbsent(instanceId, k -> new ArrayDeque<>());
        synchronized (kept) {
            if (kept.size() == KEPT) kept.removeFirst();
            kept.addLast(sample);
        }
    }

    List<InstanceRuntime.UsageSample> recent(String instanceId) {
        ArrayDeque<InstanceRuntime.UsageSample> kept = samples.get(instanceId);
        if (kept == null) return List.of();
        synchronized (kept) {
            return List.copyOf(kept);
        }
    }

    /** The instance stopped: its history goes (a new start begins new totals). */
    void forget(String instanceId) {
        samples.remove(instanceId);
        last.remove(instanceId);
    }

    /** utime + stime of a process, or -1 if it is gone. The command name may hold spaces, so count from its ')'. */
    static long cpuTicks(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            // fields[0] is the state (stat field 3): utime and stime are stat fields 14 and 15.
            return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    private static long field(Path file, String key) {
        try {
            for (String line : Files.readAllLines(file)) {
                if (line.startsWith(key)) return Long.parseLong(line.substring(key.length()).trim());
            }
        } catch (IOException | RuntimeException e) {
            // gone, or not readable here
        }
        return 0;
    }

    private static long counter(Path file) {
        try {
            return Long.parseLong(Files.readString(file).trim());
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }
}
