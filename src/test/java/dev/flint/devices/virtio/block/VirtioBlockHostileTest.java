package dev.flint.devices.virtio.block;

import dev.flint.devices.virtio.VirtioSpec;
import dev.flint.devices.virtio.VirtioTestDriver.Segment;
import dev.flint.testing.Await;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** What a hostile or broken driver can do to the rings, and that the device survives each and serves again. */
class VirtioBlockHostileTest {
    private static final long RAM = 16 << 20;
    private static final long OUTSIDE_RAM = 0xF000_0000L;

    @TempDir
    Path dir;
    private BlockRig rig;

    @BeforeEach
    void setUp() throws IOException {
        Path img = dir.resolve("disk.img");
        Files.write(img, new byte[1 << 20]);
        rig = new BlockRig(new DriveConfig(img, false), RAM).start(true);
    }

    @AfterEach
    void tearDown() {
        rig.close();
    }

    private void assertNeedsResetThenRecovers() {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while ((rig.driver.status() & VirtioSpec.STATUS_NEEDS_RESET) == 0) {
            if (System.nanoTime() > deadline) fail("device never asked for a reset");
            Thread.onSpinWait();
        }
        while (!configInterruptSeen()) { // sent right after the status changes, from the I/O thread
            if (System.nanoTime() > deadline) fail("configuration-change vector never fired");
            Thread.onSpinWait();
        }
        assertTrue(rig.device.guestErrors() > 0);
        rig.queue.resyncAfterReset();
        rig.start(true);
        assertEquals(VirtioBlock.S_OK, rig.read(0, BlockRig.DATA, 4096), "works again after the reset");
    }

    private boolean configInterruptSeen() {
        synchronized (rig.irq) {
            return rig.irq.msis.stream().anyMatch(m -> m.data() == 0x40);
        }
    }

    @Test
    void availableIndexJumpingPastTheQueueSize() {
        rig.queue.setAvailIndex(1000);
        rig.queue.kick();
        assertNeedsResetThenRecovers();
    }

    @Test
    void loopingChain() {
        var q = rig.queue;
        int head = q.addChain(List.of(Segment.in(BlockRig.HEADER, 16), Segment.out(BlockRig.STATUS, 1)));
        rig.memory.writeShort(q.desc + 16L * (head + 1) + 12, (short) 1); // status descriptor: NEXT ...
        rig.memory.writeShort(q.desc + 16L * (head + 1) + 14, (short) head); // ... back to the head
        q.publish(head);
        q.kick();
        assertNeedsResetThenRecovers();
    }

    @Test
    void headIndexOutOfRange() {
        var q = rig.queue;
        rig.memory.writeShort(q.avail + 4, (short) 0xFFFF);
        q.setAvailIndex(1);
        q.kick();
        assertNeedsResetThenRecovers();
    }

    @Test
    void readableAfterWritableBuffer() {
        rig.queue.publish(rig.queue.addChain(List.of(Segment.out(BlockRig.STATUS, 1), Segment.in(BlockRig.HEADER, 16))));
        rig.queue.kick();
        assertNeedsResetThenRecovers();
    }

    @Test
    void indirectTableOutsideRamOrNotNegotiated() {
        var q = rig.queue;
        int head = q.addIndirect(List.of(Segment.in(BlockRig.HEADER, 16), Segment.out(BlockRig.STATUS, 1)), 0x30000);
        rig.memory.writeLong(q.desc + 16L * head, OUTSIDE_RAM); // the table moves out of RAM
        q.publish(head);
        q.kick();
        assertNeedsResetThenRecovers();
    }

    @Test
    void indirectDescriptorWithoutTheFeature() {
        rig.driver.negotiate(~VirtioSpec.F_INDIRECT_DESC);
        rig.driver.common(0x10, 2, 0);
        rig.queue.resyncAfterReset();
        var q = rig.driver.setupQueue(0, 16, BlockRig.QUEUE_BASE, 1);
        rig.driver.driverOk();
        q.publish(q.addIndirect(List.of(Segment.in(BlockRig.HEADER, 16), Segment.out(BlockRig.STATUS, 1)), 0x30000));
        q.kick();
        assertNeedsResetThenRecovers();
    }

    @Test
    void ringsOutsideRamAtDriverOk() {
        rig.driver.negotiate(-1L);
        rig.driver.common(0x10, 2, 0);
        rig.driver.common(0x16, 2, 0);
        rig.driver.common(0x20, 4, OUTSIDE_RAM);
        rig.driver.common(0x24, 4, 0);
        rig.driver.common(0x1C, 2, 1);
        rig.driver.driverOk();
        assertNeedsResetThenRecovers();
    }

    @Test
    void dataOutsideRamFailsTheRequestOnly() {
        assertEquals(VirtioBlock.S_IOERR, rig.read(0, OUTSIDE_RAM, 4096));
        assertEquals(VirtioBlock.S_IOERR, rig.read(0, RAM - 2048, 4096), "straddles the end of RAM");
        assertEquals(VirtioBlock.S_IOERR, rig.read(0, BlockRig.DATA, 0xFFFF_FE00), "huge length: refused by the capacity check");
        assertEquals(2, rig.device.guestErrors(), "the two that reached guest memory");
        assertEquals(0, rig.driver.status() & VirtioSpec.STATUS_NEEDS_RESET);
        assertEquals(VirtioBlock.S_OK, rig.read(0, BlockRig.DATA, 4096));
    }

    @Test
    void statusByteOutsideRamOrMissing() {
        rig.memory.writeInt(BlockRig.HEADER, VirtioBlock.T_IN);
        assertEquals(0, rig.queue.submit(List.of(Segment.in(BlockRig.HEADER, 16), Segment.out(OUTSIDE_RAM, 1))));
        assertEquals(0, rig.queue.submit(List.of(Segment.in(BlockRig.HEADER, 16))));
        assertEquals(2, rig.device.guestErrors());
        assertEquals(VirtioBlock.S_OK, rig.read(0, BlockRig.DATA, 4096));
    }

    @Test
    void wrongDirectionsAndShortHeadersFail() {
        assertEquals(VirtioBlock.S_IOERR, rig.request(VirtioBlock.T_IN, 0, List.of(Segment.in(BlockRig.DATA, 512))));
        assertEquals(VirtioBlock.S_IOERR, rig.request(VirtioBlock.T_OUT, 0, List.of(Segment.out(BlockRig.DATA, 512))));
        rig.memory.writeByte(BlockRig.STATUS, (byte) 0x7F);
        rig.queue.submit(List.of(Segment.in(BlockRig.HEADER, 8), Segment.out(BlockRig.STATUS, 1)));
        assertEquals(VirtioBlock.S_IOERR, rig.memory.readByte(BlockRig.STATUS), "8-byte header");
        assertEquals(VirtioBlock.S_OK, rig.request(VirtioBlock.T_IN, 0, List.of(Segment.out(BlockRig.DATA, 0), Segment.out(BlockRig.DATA, 512))),
                "zero-length buffers are harmless");
    }

    @Test
    void notificationsBeforeDriverOkWaitForIt() throws InterruptedException {
        rig.driver.negotiate(-1L);
        rig.queue.resyncAfterReset();
        var q = rig.driver.setupQueue(0, 16, BlockRig.QUEUE_BASE, 1);
        rig.memory.writeInt(BlockRig.HEADER, VirtioBlock.T_IN);
        rig.memory.writeLong(BlockRig.HEADER + 8, 0);
        q.publish(q.addChain(List.of(Segment.in(BlockRig.HEADER, 16), Segment.out(BlockRig.DATA, 512), Segment.out(BlockRig.STATUS, 1))));
        long passes = rig.device.ioPasses();
        q.kick();
        Await.until("the I/O thread looked at the notification", () -> rig.device.ioPasses() > passes);
        assertEquals(0, q.usedIndex(), "no device work before DRIVER_OK");
        rig.driver.driverOk();
        assertTrue(q.awaitUsed(1, 30_000));
        assertEquals(VirtioBlock.S_OK, rig.memory.readByte(BlockRig.STATUS));
    }
}
