package dev.flint.devices.virtio.block;

import dev.flint.devices.virtio.SevereLogCounter;
import dev.flint.devices.virtio.VirtioTestDriver;
import dev.flint.devices.virtio.VirtioTestDriver.Segment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class VirtioBlockConcurrencyTest {
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    @Test
    void resetWhileRequestsAreInFlightCompletesPromptlyAndCleanly() throws IOException {
        Path img = dir.resolve("disk.img");
        Files.write(img, new byte[(int) (8 * MIB)]);
        try (SevereLogCounter severe = new SevereLogCounter();
             BlockRig rig = new BlockRig(new DriveConfig(img, false), 48 * MIB).start(true)) {
            long slowest = 0;
            for (int round = 0; round < 30; round++) {
                VirtioTestDriver.Queue q = rig.queue;
                rig.memory.writeInt(BlockRig.HEADER, VirtioBlock.T_IN);
                rig.memory.writeLong(BlockRig.HEADER + 8, 0);
                for (int i = 0; i < 32; i++) {
                    q.publish(q.addChain(List.of(Segment.in(BlockRig.HEADER, 16),
                            Segment.out(BlockRig.DATA + i * MIB, (int) MIB), Segment.out(BlockRig.STATUS + i, 1))));
                }
                q.kick();
                long t0 = System.nanoTime();
                rig.driver.common(0x14, 1, 0); // reset races the I/O thread serving those 32 MiB
                slowest = Math.max(slowest, System.nanoTime() - t0);
                assertEquals(0, rig.driver.status(), "reset is complete when the write returns");
                q.resyncAfterReset();
                rig.start(true);
            }
            assertTrue(slowest < 2_000_000_000L, "reset waits for at most the request in flight: " + slowest / 1_000_000 + " ms");
            assertEquals(VirtioBlock.S_OK, rig.read(0, BlockRig.DATA, 4096));
            assertEquals(0, severe.count());
        }
    }

    @Test
    void maskedMsixVectorIsPendingUntilUnmasked() throws IOException {
        Path img = dir.resolve("disk.img");
        Files.write(img, new byte[(int) MIB]);
        try (BlockRig rig = new BlockRig(new DriveConfig(img, false), 16 * MIB).start(true)) {
            long vector1 = VirtioTestDriver.BAR_ADDRESS + 0x4000 + 16;
            rig.mmio.write(vector1 + 12, 4, 1); // mask the queue's vector
            assertEquals(VirtioBlock.S_OK, rig.read(0, BlockRig.DATA, 4096));
            long pba = VirtioTestDriver.BAR_ADDRESS + 0x5000;
            long deadline = System.nanoTime() + 5_000_000_000L;
            while ((rig.mmio.read(pba, 8) & 2) == 0) {
                if (System.nanoTime() > deadline) fail("vector 1 never pending");
                Thread.onSpinWait();
            }
            synchronized (rig.irq) {
                assertTrue(rig.irq.msis.isEmpty(), "nothing delivered while masked");
            }
            rig.mmio.write(vector1 + 12, 4, 0);
            VirtioTestDriver.awaitMsis(rig.irq, 0x41, 1);
            assertEquals(0, rig.mmio.read(pba, 8));
        }
    }
}
