package dev.flint.devices.virtio.block;

import dev.flint.devices.KilledAfterFlush;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A write the driver flushed is in the image when the VMM is killed with SIGKILL right after, with 1 MiB reads
 * queued beside it (written for Round 11's pipeline, where those reads stayed in flight past the flush; kept as a
 * guard of the flush rule, docs/block-path.md).
 */
class VirtioBlockDurabilityTest {
    @TempDir
    Path dir;

    @Test
    void flushedWriteSurvivesKillNineWithReadsInFlight() throws Exception {
        byte[] image = new byte[16 << 20];
        for (int i = 0; i < image.length; i += 4096) image[i] = (byte) (i >>> 12); // pages in the cache, not all zero
        Path img = Files.write(dir.resolve("disk.img"), image);
        KilledAfterFlush.assertWriteSurvives(ReadsThenFlushProbe.class, img);
    }
}
