package dev.flint.devices.virtio.block;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What a device's I/O thread and the io_uring kernel workers it hands reads to did, from /proc/self/task (the
 * benches read it around a timed section): how often the I/O thread went to sleep (voluntary context switches)
 * and how much CPU its io-wq workers ({@code iou-wrk-TID}, threads of this process) ran, to the nanosecond
 * (schedstat). These are counts that load moves little, beside the wall clock that it moves a lot
 * (docs/block-path.md, Round 9).
 */
public record IoThreadCounts(long sleeps, long workerNanos) {
    private static final Path TASKS = Path.of("/proc/self/task");

    /** Counts for the live thread whose native name is {@code comm}; zeros if there is none (or no /proc). */
    public static IoThreadCounts of(String comm) {
        try (var tasks = Files.list(TASKS)) {
            String tid = tasks.map(t -> t.getFileName().toString()).filter(t -> comm.equals(read(t, "comm"))).findFirst().orElse(null);
            if (tid == null) return new IoThreadCounts(0, 0);
            long sleeps = 0;
            for (String line : read(tid, "status").split("\n")) {
                if (line.startsWith("voluntary_ctxt_switches:")) sleeps = Long.parseLong(line.substring(line.indexOf(':') + 1).trim());
            }
            String worker = "iou-wrk-" + tid;
            long workers;
            try (var all = Files.list(TASKS)) {
                workers = all.map(t -> t.getFileName().toString()).filter(t -> worker.equals(read(t, "comm")))
                        .mapToLong(t -> firstLong(read(t, "schedstat"))).sum();
            }
            return new IoThreadCounts(sleeps, workers);
        } catch (IOException e) {
            return new IoThreadCounts(0, 0);
        }
    }

    /** What happened between {@code before} and this. */
    public IoThreadCounts since(IoThreadCounts before) {
        return new IoThreadCounts(sleeps - before.sleeps, workerNanos - before.workerNanos);
    }

    private static long firstLong(String s) {
        if (s.isEmpty()) return 0;
        return Long.parseLong(s.split(" ")[0]);
    }

    private static String read(String tid, String file) {
        try {
            return Files.readString(TASKS.resolve(tid).resolve(file)).strip();
        } catch (IOException e) { // the thread ended meanwhile
            return "";
        }
    }
}
