package dev.flint.devices.virtio.block;

import dev.flint.devices.virtio.SevereLogCounter;
import dev.flint.devices.virtio.VirtioTestDriver.Segment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Reads still in flight when a batch ends (docs/block-path.md, Round 11). To hold a read in flight for as long as
 * a test needs, the image's path is swapped for a FIFO after the image is open and before its first request: the
 * device's own descriptor ({@link IoBatch}) then reads from the FIFO, and a read completes only when the test
 * writes a block into it (io_uring waits for a pipe without a worker; the position is ignored).
 */
class VirtioBlockPipelineTest {
    private static final long MIB = 1 << 20;
    private static final int BLOCK = 4096;
    private static final long HEADER_A = BlockRig.HEADER, HEADER_B = BlockRig.HEADER + 0x40;
    private static final long STATUS_A = BlockRig.STATUS, STATUS_B = BlockRig.STATUS + 1;
    private static final long DATA_A = BlockRig.DATA, DATA_B = BlockRig.DATA + MIB, ID = BlockRig.DATA + 2 * MIB;

    @TempDir
    Path dir;

    /** A rig whose image reads come from a FIFO at the image's path; null where io_uring is not available. */
    private BlockRig fifoRig(Path img) throws IOException, InterruptedException {
        Files.write(img, new byte[(int) (8 * MIB)]);
        BlockRig rig = new BlockRig(new DriveConfig(img, false), 16 * MIB).start(true);
        Files.move(img, img.resolveSibling("real.img"));
        Process p = new ProcessBuilder("mkfifo", img.toString()).inheritIO().start();
        assertEquals(0, p.waitFor(), "mkfifo");
        return rig;
    }

    private static boolean ringAvailable() {
        try (dev.flint.sys.IoUring ring = dev.flint.sys.IoUring.open(8)) {
            return ring.capacity() > 0 && !"sync".equals(System.getProperty(IoBatch.BACKEND_PROPERTY));
        } catch (dev.flint.sys.ErrnoException e) {
            return false;
        }
    }

    private static void header(BlockRig rig, long at, int type, long sector) {
        rig.memory.writeInt(at, type);
        rig.memory.writeInt(at + 4, 0);
        rig.memory.writeLong(at + 8, sector);
    }

    /** Publishes a read of one block at sector 0 into {@code data}, status at {@code status}; returns its head. */
    private static int publishRead(BlockRig rig, long header, long data, long status) {
        header(rig, header, VirtioBlock.T_IN, 0);
        rig.memory.writeByte(status, (byte) 0x7F);
        int head = rig.queue.addChain(List.of(Segment.in(header, 16), Segment.out(data, BLOCK), Segment.out(status, 1)));
        rig.queue.publish(head);
        return head;
    }

    /** A GET_ID request, which the device answers without the image: done while a read is in flight, if pipelined. */
    private static int publishGetId(BlockRig rig) {
        header(rig, HEADER_B, VirtioBlock.T_GET_ID, 0);
        rig.memory.writeByte(STATUS_B, (byte) 0x7F);
        int head = rig.queue.addChain(List.of(Segment.in(HEADER_B, 16), Segment.out(ID, 20), Segment.out(STATUS_B, 1)));
        rig.queue.publish(head);
        return head;
    }

    private static byte[] pattern(int seed) {
        byte[] b = new byte[BLOCK];
        for (int i = 0; i < b.length; i++) b[i] = (byte) (i * 31 + seed);
        return b;
    }

    /** Feeds one block into the FIFO (one write of 4 KiB: a pipe hands it to the reader whole). */
    private static void feed(Path fifo, byte[] block) throws IOException {
        try (FileChannel ch = FileChannel.open(fifo, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.wrap(block);
            while (b.hasRemaining()) ch.write(b);
        }
    }

    /** Waits until some live thread is inside {@code IoBatch.drain} (a reset or pause waiting for a read in flight). */
    private static boolean awaitDrainingThread(long timeoutMillis) {
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000;
        while (System.nanoTime() < deadline) {
            for (StackTraceElement[] stack : Thread.getAllStackTraces().values()) {
                for (StackTraceElement f : stack) {
                    if (f.getClassName().equals(IoBatch.class.getName()) && f.getMethodName().equals("drain")) return true;
                }
            }
            Thread.onSpinWait();
        }
        return false;
    }

    /**
     * A read waits in flight; a request the driver publishes after it is taken and completed at once, and the read
     * then completes with the bytes that arrived and OK. Fails where the device finishes a batch's reads before it
     * takes the next request (-Dflint.blk.pipeline=false): the GET_ID then waits behind the read.
     */
    @Test
    void requestTakenWhileAReadIsInFlightCompletesAndTheReadThenCompletesRight() throws Exception {
        Path img = dir.resolve("disk.img");
        try (SevereLogCounter severe = new SevereLogCounter(); BlockRig rig = fifoRig(img)) {
            boolean fed = false;
            try {
                int a = publishRead(rig, HEADER_A, DATA_A, STATUS_A);
                rig.queue.kick();
                int b = publishGetId(rig);
                rig.queue.kick();
                assumeTrue(ringAvailable(), "io_uring unavailable");
                assertTrue(rig.queue.awaitUsed(1, 5_000), "the GET_ID published after the read completes while the read is in flight");
                assertEquals(b, rig.queue.usedHead(0));
                assertEquals(VirtioBlock.S_OK, rig.memory.readByte(STATUS_B));
                assertEquals(0x7F, rig.memory.readByte(STATUS_A), "the read is still in flight");
                byte[] block = pattern(7);
                feed(img, block);
                fed = true;
                assertTrue(rig.queue.awaitUsed(1, 5_000), "the read completes once its data arrives");
                assertEquals(a, rig.queue.usedHead(1));
                assertEquals(1 + BLOCK, rig.queue.usedLength(1));
                assertEquals(VirtioBlock.S_OK, rig.memory.readByte(STATUS_A));
                byte[] got = new byte[BLOCK];
                rig.memory.read(DATA_A, got, 0, BLOCK);
                assertArrayEquals(block, got);
                assertEquals(0, ((VirtioBlock) rig.device.model()).requestsInFlight());
            } finally {
                if (!fed) feed(img, pattern(0)); // lets a device stuck on the read go, so the rig closes
            }
            assertEquals(0, severe.count());
        }
    }

    /**
     * A reset with a read in flight waits for it (the kernel writes guest RAM until the read is done) and then
     * returns no completion for it: no status byte, no used entry, nothing written into guest RAM afterwards. Fails
     * if the reset returns while the read is in flight (no thread is ever seen waiting in drain).
     */
    @Test
    void resetWaitsForTheReadInFlightAndCompletesNothingAfterwards() throws Exception {
        Path img = dir.resolve("disk.img");
        try (SevereLogCounter severe = new SevereLogCounter(); BlockRig rig = fifoRig(img)) {
            publishRead(rig, HEADER_A, DATA_A, STATUS_A);
            rig.queue.kick();
            publishGetId(rig);
            rig.queue.kick();
            assumeTrue(ringAvailable(), "io_uring unavailable");
            boolean taken = rig.queue.awaitUsed(1, 5_000);
            if (!taken) feed(img, pattern(0)); // lets a device stuck on the read go, so the rig closes
            assertTrue(taken, "the GET_ID completes: the read is in flight");
            AtomicReference<Throwable> failed = new AtomicReference<>();
            Thread reset = Thread.ofPlatform().start(() -> {
                try {
                    rig.driver.common(0x14, 1, 0);
                } catch (Throwable t) {
                    failed.set(t);
                }
            });
            boolean waited = awaitDrainingThread(5_000);
            feed(img, pattern(3));
            reset.join(10_000);
            assertFalse(reset.isAlive(), "reset returns once the read is done");
            assertNull(failed.get());
            assertTrue(waited, "the reset waited for the read in flight");
            assertEquals(0, rig.driver.status());
            // Nothing of the read reaches the driver, now or later: mark its buffer, bring the device up again and
            // have the I/O thread make a pass.
            byte[] marker = new byte[BLOCK];
            Arrays.fill(marker, (byte) 0x5A);
            rig.memory.write(DATA_A, marker, 0, BLOCK);
            rig.queue.resyncAfterReset();
            rig.start(true);
            publishGetId(rig);
            rig.queue.kick();
            assertTrue(rig.queue.awaitUsed(1, 5_000));
            assertEquals(0x7F, rig.memory.readByte(STATUS_A), "no status byte for a request the reset dropped");
            byte[] after = new byte[BLOCK];
            rig.memory.read(DATA_A, after, 0, BLOCK);
            assertArrayEquals(marker, after, "nothing written into the buffer after the reset");
            assertEquals(0, ((VirtioBlock) rig.device.model()).requestsInFlight());
            assertEquals(0, severe.count());
        }
    }

    /**
     * A pause with a read in flight completes it first: when pause returns, every chain taken off the ring is on
     * the used ring (a snapshot taken then loses nothing). Fails if the pause holds the thread with the read in flight.
     */
    @Test
    void pauseCompletesTheReadInFlightBeforeItHolds() throws Exception {
        Path img = dir.resolve("disk.img");
        try (SevereLogCounter severe = new SevereLogCounter(); BlockRig rig = fifoRig(img)) {
            boolean fed = false;
            try {
                int a = publishRead(rig, HEADER_A, DATA_A, STATUS_A);
                rig.queue.kick();
                publishGetId(rig);
                rig.queue.kick();
                assumeTrue(ringAvailable(), "io_uring unavailable");
                assertTrue(rig.queue.awaitUsed(1, 5_000));
                Thread pause = Thread.ofPlatform().start(rig.device::pause);
                assertTrue(awaitDrainingThread(5_000), "the I/O thread waits for the read before it holds");
                byte[] block = pattern(11);
                feed(img, block);
                fed = true;
                pause.join(10_000);
                assertFalse(pause.isAlive());
                assertEquals(2, rig.queue.usedIndex(), "the read is on the used ring when pause returns");
                assertEquals(a, rig.queue.usedHead(1));
                assertEquals(VirtioBlock.S_OK, rig.memory.readByte(STATUS_A));
                byte[] got = new byte[BLOCK];
                rig.memory.read(DATA_A, got, 0, BLOCK);
                assertArrayEquals(block, got);
                rig.device.resume();
            } finally {
                if (!fed) feed(img, pattern(0));
            }
            assertEquals(0, severe.count());
        }
    }

    /**
     * A hostile driver publishes the same head again while its read is in flight: both are served and both come
     * back, nothing fails or hangs.
     */
    @Test
    void aHeadPublishedAgainWhileInFlightIsServedTwice() throws Exception {
        Path img = dir.resolve("disk.img");
        try (SevereLogCounter severe = new SevereLogCounter(); BlockRig rig = fifoRig(img)) {
            int fed = 0;
            try {
                int a = publishRead(rig, HEADER_A, DATA_A, STATUS_A);
                rig.queue.kick();
                rig.queue.publish(a); // the same chain again
                rig.queue.kick();
                publishGetId(rig);
                rig.queue.kick();
                assumeTrue(ringAvailable(), "io_uring unavailable");
                assertTrue(rig.queue.awaitUsed(1, 5_000), "the GET_ID behind both comes back first");
                assertEquals(2, ((VirtioBlock) rig.device.model()).requestsInFlight());
                feed(img, pattern(1));
                fed++;
                feed(img, pattern(2));
                fed++;
                assertTrue(rig.queue.awaitUsed(2, 5_000), "both reads come back");
                assertEquals(a, rig.queue.usedHead(1));
                assertEquals(a, rig.queue.usedHead(2));
                assertEquals(VirtioBlock.S_OK, rig.memory.readByte(STATUS_A));
            } finally {
                for (; fed < 2; fed++) feed(img, pattern(0));
            }
            assertEquals(0, severe.count());
        }
    }
}
