package dev.flint.devices.nvme;

import dev.flint.devices.virtio.VirtioTestDriver;
import dev.flint.devices.virtio.block.DriveConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * Commands submitted by one doorbell beyond what one batch takes (Linux at iodepth 32): the first batch's
 * completions are posted and interrupted for before the next batch is served, so the driver can refill
 * while the controller works; each command completes once, with its data.
 */
class NvmeBatchLimitTest {
    private static final int IO_VECTOR_DATA = 0x41; // NvmeTestDriver.probe: data 0x40 + vector; I/O queue 1 uses vector 1

    @TempDir
    Path dir;

    @Test
    void twoBatchesWorthOnOneDoorbellCompleteInTwoInterruptsWithTheirData() throws IOException {
        int commands = 2 * NvmeController.IO_BATCH;
        byte[] disk = new byte[1 << 20];
        new Random(9).nextBytes(disk); // fixed seed: the content only has to differ per block
        Path image = Files.write(dir.resolve("disk.img"), disk);
        try (NvmeRig rig = new NvmeRig(List.of(new DriveConfig(image, false, DriveConfig.Interface.NVME, null)), 1, 16 << 20).start()) {
            NvmeTestDriver.Queue q = rig.queue;
            long before;
            synchronized (rig.irq) {
                before = rig.irq.msis.stream().filter(m -> m.data() == IO_VECTOR_DATA).count();
            }
            for (int j = 0; j < commands; j++) q.put(rig.rw(NvmeSpec.IO_READ, 1, 3L * j, 1, NvmeRig.DATA + 4096L * j));
            q.ring(); // one doorbell for all of them
            for (int j = 0; j < commands; j++) {
                NvmeTestDriver.Completion c = q.take(30_000);
                assertNotNull(c, "completion " + j);
                assertEquals(0, c.status(), "status of command " + c.cid());
            }
            q.ringHead();
            VirtioTestDriver.awaitMsis(rig.irq, IO_VECTOR_DATA, (int) before + 2); // one interrupt per batch
            for (int j = 0; j < commands; j++) {
                byte[] got = new byte[512], want = new byte[512];
                rig.memory.read(NvmeRig.DATA + 4096L * j, got, 0, 512);
                System.arraycopy(disk, 3 * j * 512, want, 0, 512);
                assertArrayEquals(want, got, "data of command " + j);
            }
        }
    }
}
