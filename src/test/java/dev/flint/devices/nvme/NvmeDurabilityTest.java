package dev.flint.devices.nvme;

import dev.flint.devices.KilledAfterFlush;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

/** A write the driver flushed is in the image even when the VMM is killed with SIGKILL right after. */
class NvmeDurabilityTest {
    @TempDir
    Path dir;

    @Test
    void flushedDataSurvivesKillNine() throws Exception {
        Path img = Files.write(dir.resolve("disk.img"), new byte[1 << 20]);
        KilledAfterFlush.assertWriteSurvives(FlushProbe.class, img);
    }
}
