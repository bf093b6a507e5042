package dev.flint.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.boot.FlintProcess;
import dev.flint.guest.GuestAssets;
import dev.flint.sys.FileHoles;
import dev.flint.testing.Await;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Diff snapshots as a Firecracker user takes them, on either engine: boot the stock guest with
 * {@code track_dirty_pages}, take a Full snapshot, let the guest write new files (in its RAM: the
 * initramfs), take a Diff snapshot. The Diff's memory file is as long as RAM, sparse, holds the pages the
 * guest wrote after the base and far less data than the base. {@code flint snapshot rebase} merges it onto
 * (a copy of) the base; a new VMM loads the Diff's state with the merged memory and the guest still has
 * the files, byte for byte, that did not exist at the base. On emu the vCPUs' stores mark the dirty log
 * themselves; on kvm it is KVM's log (KVM_GET_DIRTY_LOG) merged with the devices' writes.
 * {@link ApiDiffSnapshotGuestTest} runs it on emu, the nested KVM run ({@code dev.flint.nested.KvmGuestTest})
 * on kvm.
 */
public final class ApiDiffSnapshotGuest {
    private ApiDiffSnapshotGuest() {}

    private static final Duration STEP = Duration.ofMinutes(3);
    private static final Pattern SUM = Pattern.compile("sum-([0-9a-f]{32})-end");
    private static final String PATTERN_LAST_LINE = "flint-diff-pattern-63";

    public static void run(String engine, Path dir) throws Exception {
        GuestAssets assets = GuestAssets.open(GuestAssets.defaultCacheDir());
        assets.fetch(System.out);
        Path baseState = dir.resolve("base.state"), baseMemory = dir.resolve("base.mem");
        Path diffState = dir.resolve("diff.state"), diffMemory = dir.resolve("diff.mem");
        String blobSum;
        Phases phases = new Phases(engine);

        Path socket = dir.resolve("a.sock");
        try (FlintProcess flint = FlintProcess.start("vmm", "--api-sock", socket.toString(), "--engine", engine)) {
            Await.until("the API socket exists", STEP, () -> Files.exists(socket));
            try (UnixSocketClient client = new UnixSocketClient(socket)) {
                client.awaitAnswering(STEP);
                ApiGuestBoot.putDefaultGuest(client, assets);
                var tracking = client.sendRaw("PATCH", "/machine-config", "{\"track_dirty_pages\": true}");
                assertEquals(204, tracking.status(), tracking.body());
                var started = client.sendRaw("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
                assertEquals(204, started.status(), started.body());
                flint.await("Flint guest: busybox", Duration.ofMinutes(10));
                flint.await("# ", STEP);
                phases.done("booted to the shell");

                pause(client);
                create(client, "Full", baseState, baseMemory);
                phases.done("Full snapshot");
                assertEquals(204, client.sendRaw("PATCH", "/vm", "{\"state\": \"Resumed\"}").status());

                blobSum = writeFiles(flint);

                phases.done("guest wrote its files");
                pause(client);
                create(client, "Diff", diffState, diffMemory);
                phases.done("Diff snapshot");
            }
            flint.kill();
        }

        checkMemoryFiles(baseMemory, diffMemory);
        phases.done("memory files checked");
        Path merged = rebaseOntoCopy(baseMemory, diffMemory, dir);
        phases.done("rebased");

        Path socket2 = dir.resolve("b.sock");
        try (FlintProcess flint = FlintProcess.start("vmm", "--api-sock", socket2.toString(), "--engine", engine)) {
            Await.until("the API socket exists", STEP, () -> Files.exists(socket2));
            try (UnixSocketClient client = new UnixSocketClient(socket2)) {
                client.awaitAnswering(STEP);
                var loaded = client.sendRaw("PUT", "/snapshot/load", "{\"snapshot_path\": \"" + diffState + "\", \"mem_backend\": "
                        + "{\"backend_type\": \"File\", \"backend_path\": \"" + merged + "\"}, \"resume_vm\": true}");
                assertEquals(204, loaded.status(), loaded.body());

                checkFilesCameBack(flint, blobSum);
                phases.done("loaded in a new VMM, files checked");
                flint.type("poweroff -f");
                assertEquals(0, flint.exitCode(STEP), flint.output());
            }
        }
    }

    /**
     * The guest (at its shell, resumed after a Full snapshot) writes a 512 KiB random file and a 64-line
     * text file into its RAM (the initramfs: their pages exist only after the base); returns the random
     * file's md5sum as the guest computed it.
     */
    static String writeFiles(FlintProcess flint) throws Exception {
        flint.type("head -c 524288 /dev/urandom > /dirty-blob; i=0; while [ $i -lt 64 ]; do echo flint-diff-pattern-$i;"
                + " i=$((i+1)); done > /dirty-pattern; sync; echo sum-$(md5sum < /dirty-blob | cut -c1-32)-end");
        return awaitSum(flint);
    }

    /**
     * The Diff's memory file is as long as RAM (256 MiB), holds at least the random file's pages and less
     * data than the base, and holds the text file's last line, which the base does not.
     */
    static void checkMemoryFiles(Path baseMemory, Path diffMemory) throws Exception {
        long ram = 256L << 20;
        assertEquals(ram, Files.size(diffMemory), "a Diff's memory file is as long as guest RAM");
        long baseData = dataBytes(baseMemory), diffData = dataBytes(diffMemory);
        System.out.printf("diff snapshot: base memory file %d KiB of data, diff %d KiB of data (%d MiB RAM)%n",
                baseData >> 10, diffData >> 10, ram >> 20);
        assertTrue(diffData >= 524288 && diffData < baseData,
                "the diff holds the new pages and less than the base: " + diffData + " vs " + baseData + " bytes");
        assertTrue(contains(diffMemory, PATTERN_LAST_LINE + "\n"), "the diff holds the page the guest's new file is in");
        assertFalse(contains(baseMemory, PATTERN_LAST_LINE + "\n"), "the base predates that file");
    }

    /** {@code flint snapshot rebase} of the Diff onto a copy of the base; returns the merged memory file. */
    static Path rebaseOntoCopy(Path baseMemory, Path diffMemory, Path dir) throws Exception {
        Path merged = sparseCopy(baseMemory, dir.resolve("merged.mem"));
        try (FlintProcess rebase = FlintProcess.start("snapshot", "rebase", "--memory-path", merged.toString(),
                "--diff-path", diffMemory.toString())) {
            assertEquals(0, rebase.exitCode(STEP), rebase.output());
            assertTrue(rebase.output().contains("merged " + diffMemory + " onto " + merged), rebase.output());
        }
        return merged;
    }

    /** In the guest loaded from the Diff: the files written after the base are there, byte for byte. */
    static void checkFilesCameBack(FlintProcess flint, String blobSum) throws Exception {
        flint.type("tail -n 1 /dirty-pattern; echo sum-$(md5sum < /dirty-blob | cut -c1-32)-end");
        assertEquals(blobSum, awaitSum(flint), "the blob written after the base came back byte for byte");
        assertTrue(flint.output().contains(PATTERN_LAST_LINE + "\r\n") || flint.output().contains(PATTERN_LAST_LINE + "\n"),
                flint.output());
    }

    /** Prints each step's time: the scenario runs in the nested KVM run, whose time is budgeted. */
    private static final class Phases {
        private final String engine;
        private long last = System.nanoTime();

        Phases(String engine) { this.engine = engine; }

        void done(String step) {
            long now = System.nanoTime();
            System.out.printf("diff snapshot on %s: %s in %.1f s%n", engine, step, (now - last) / 1e9);
            last = now;
        }
    }

    /**
     * A copy of {@code from} with its holes kept (a plain copy writes the holes out as zeros: 256 MiB for
     * 80 of data, slow in the nested L1). Only the data ranges are copied, into a file of the same length.
     */
    private static Path sparseCopy(Path from, Path to) throws Exception {
        long size = Files.size(from);
        try (FileChannel in = FileChannel.open(from, StandardOpenOption.READ);
             FileChannel out = FileChannel.open(to, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (long[] range : dataRanges(from)) {
                for (long at = range[0]; at < range[1]; ) {
                    long n = in.transferTo(at, range[1] - at, out.position(at));
                    if (n <= 0) throw new java.io.IOException("copy made no progress at " + at);
                    at += n;
                }
            }
            out.truncate(size);
            if (out.size() < size) out.write(java.nio.ByteBuffer.allocate(1), size - 1); // a trailing hole
        }
        return to;
    }

    private static void pause(UnixSocketClient client) throws Exception {
        var paused = client.sendRaw("PATCH", "/vm", "{\"state\": \"Paused\"}");
        assertEquals(204, paused.status(), paused.body());
    }

    private static void create(UnixSocketClient client, String type, Path state, Path memory) throws Exception {
        var created = client.sendRaw("PUT", "/snapshot/create", "{\"snapshot_type\": \"" + type + "\", \"snapshot_path\": \""
                + state + "\", \"mem_file_path\": \"" + memory + "\"}");
        assertEquals(204, created.status(), created.body());
    }

    private static String awaitSum(FlintProcess flint) throws Exception {
        Await.until("the guest's md5sum", STEP, () -> SUM.matcher(flint.output()).find());
        Matcher m = SUM.matcher(flint.output());
        assertTrue(m.find());
        return m.group(1);
    }

    /** Bytes of the file that are data, not holes (SEEK_DATA / SEEK_HOLE). */
    private static long dataBytes(Path file) throws Exception {
        long total = 0;
        for (long[] range : dataRanges(file)) total += range[1] - range[0];
        return total;
    }

    /** The file's data ranges, {start, end} each (SEEK_DATA / SEEK_HOLE). */
    private static java.util.List<long[]> dataRanges(Path file) throws Exception {
        long size = Files.size(file);
        var ranges = new java.util.ArrayList<long[]>();
        try (FileHoles holes = FileHoles.openReadOnly(file.toString())) {
            for (long pos = 0; pos < size; ) {
                long data = holes.nextData(pos);
                if (data < 0) break;
                long end = holes.nextHole(data);
                ranges.add(new long[] {data, end});
                pos = end;
            }
        }
        return ranges;
    }

    /**
     * Whether {@code text} is in the file's data (holes read as zeros, so no text is in them); reads only
     * the data ranges, and searches bytes without decoding them.
     */
    private static boolean contains(Path file, String text) throws Exception {
        byte[] needle = text.getBytes(StandardCharsets.US_ASCII);
        byte[] buf = new byte[(1 << 20) + needle.length];
        try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
            for (long[] range : dataRanges(file)) {
                // Chunks overlap by the needle's length less one, so a match across two chunks is seen.
                for (long at = range[0]; at < range[1]; at += buf.length - needle.length + 1) {
                    var bb = java.nio.ByteBuffer.wrap(buf, 0, (int) Math.min(buf.length, range[1] - at));
                    while (bb.hasRemaining() && in.read(bb, at + bb.position()) >= 0) { }
                    int got = bb.position();
                    for (int k = 0; k + needle.length <= got; k++) {
                        if (buf[k] == needle[0] && java.util.Arrays.equals(buf, k, k + needle.length, needle, 0, needle.length)) return true;
                    }
                }
            }
        }
        return false;
    }
}
