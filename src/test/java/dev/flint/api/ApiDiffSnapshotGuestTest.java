package dev.flint.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.boot.FlintProcess;
import dev.flint.guest.GuestAssets;
import dev.flint.sys.FileHoles;
import dev.flint.testing.Await;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Diff snapshots as a Firecracker user takes them, on the emu engine: boot the stock guest with
 * {@code track_dirty_pages}, take a Full snapshot, let the guest write new files (in its RAM: the
 * initramfs), take a Diff snapshot. The Diff's memory file is as long as RAM, sparse, holds the pages the
 * guest wrote after the base and far less data than the base. {@code flint snapshot rebase} merges it onto
 * (a copy of) the base; a new VMM loads the Diff's state with the merged memory and the guest still has
 * the files, byte for byte, that did not exist at the base.
 */
@Tag("guest")
class ApiDiffSnapshotGuestTest {
    private static final Duration STEP = Duration.ofMinutes(3);
    private static final Pattern SUM = Pattern.compile("sum-([0-9a-f]{32})-end");
    private static final String PATTERN_LAST_LINE = "flint-diff-pattern-63";

    @Test
    void aDiffMergedOntoItsBaseRestoresWhatTheGuestWroteAfterTheBase(@TempDir Path dir) throws Exception {
        GuestAssets assets = GuestAssets.open(GuestAssets.defaultCacheDir());
        assets.fetch(System.out);
        Path baseState = dir.resolve("base.state"), baseMemory = dir.resolve("base.mem");
        Path diffState = dir.resolve("diff.state"), diffMemory = dir.resolve("diff.mem");
        String blobSum;

        Path socket = dir.resolve("a.sock");
        try (FlintProcess flint = FlintProcess.start("vmm", "--api-sock", socket.toString(), "--engine", "emu")) {
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

                pause(client);
                create(client, "Full", baseState, baseMemory);
                assertEquals(204, client.sendRaw("PATCH", "/vm", "{\"state\": \"Resumed\"}").status());

                // Files in the initramfs live in guest RAM: their pages exist only after the base.
                flint.type("head -c 524288 /dev/urandom > /dirty-blob; i=0; while [ $i -lt 64 ]; do echo flint-diff-pattern-$i;"
                        + " i=$((i+1)); done > /dirty-pattern; sync; echo sum-$(md5sum < /dirty-blob | cut -c1-32)-end");
                blobSum = awaitSum(flint);

                pause(client);
                create(client, "Diff", diffState, diffMemory);
            }
            flint.kill();
        }

        long ram = 256L << 20;
        assertEquals(ram, Files.size(diffMemory), "a Diff's memory file is as long as guest RAM");
        long baseData = dataBytes(baseMemory), diffData = dataBytes(diffMemory);
        System.out.printf("diff snapshot: base memory file %d KiB of data, diff %d KiB of data (%d MiB RAM)%n",
                baseData >> 10, diffData >> 10, ram >> 20);
        assertTrue(diffData >= 524288 && diffData < baseData,
                "the diff holds the new pages and less than the base: " + diffData + " vs " + baseData + " bytes");
        assertTrue(contains(diffMemory, PATTERN_LAST_LINE + "\n"), "the diff holds the page the guest's new file is in");
        assertFalse(contains(baseMemory, PATTERN_LAST_LINE + "\n"), "the base predates that file");

        Path merged = Files.copy(baseMemory, dir.resolve("merged.mem"), StandardCopyOption.COPY_ATTRIBUTES);
        try (FlintProcess rebase = FlintProcess.start("snapshot", "rebase", "--memory-path", merged.toString(),
                "--diff-path", diffMemory.toString())) {
            assertEquals(0, rebase.exitCode(STEP), rebase.output());
            assertTrue(rebase.output().contains("merged " + diffMemory + " onto " + merged), rebase.output());
        }

        Path socket2 = dir.resolve("b.sock");
        try (FlintProcess flint = FlintProcess.start("vmm", "--api-sock", socket2.toString(), "--engine", "emu")) {
            Await.until("the API socket exists", STEP, () -> Files.exists(socket2));
            try (UnixSocketClient client = new UnixSocketClient(socket2)) {
                client.awaitAnswering(STEP);
                var loaded = client.sendRaw("PUT", "/snapshot/load", "{\"snapshot_path\": \"" + diffState + "\", \"mem_backend\": "
                        + "{\"backend_type\": \"File\", \"backend_path\": \"" + merged + "\"}, \"resume_vm\": true}");
                assertEquals(204, loaded.status(), loaded.body());

                flint.type("tail -n 1 /dirty-pattern; echo sum-$(md5sum < /dirty-blob | cut -c1-32)-end");
                assertEquals(blobSum, awaitSum(flint), "the blob written after the base came back byte for byte");
                assertTrue(flint.output().contains(PATTERN_LAST_LINE + "\r\n") || flint.output().contains(PATTERN_LAST_LINE + "\n"),
                        flint.output());
                flint.type("poweroff -f");
                assertEquals(0, flint.exitCode(STEP), flint.output());
            }
        }
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
        long size = Files.size(file), total = 0;
        try (FileHoles holes = FileHoles.openReadOnly(file.toString())) {
            for (long pos = 0; pos < size; ) {
                long data = holes.nextData(pos);
                if (data < 0) break;
                long end = holes.nextHole(data);
                total += end - data;
                pos = end;
            }
        }
        return total;
    }

    private static boolean contains(Path file, String text) throws Exception {
        byte[] needle = text.getBytes(StandardCharsets.US_ASCII);
        String n = new String(needle, StandardCharsets.ISO_8859_1);
        String carry = "";
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[1 << 20];
            for (int r; (r = in.readNBytes(buf, 0, buf.length)) > 0; ) {
                String chunk = carry + new String(buf, 0, r, StandardCharsets.ISO_8859_1);
                if (chunk.contains(n)) return true;
                carry = chunk.substring(Math.max(0, chunk.length() - needle.length));
            }
        }
        return false;
    }

}
