package dev.flint.devices.virtio.block;

import dev.flint.devices.virtio.SevereLogCounter;
import dev.flint.devices.virtio.VirtioTestDriver;
import dev.flint.devices.virtio.VirtioTestDriver.Segment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.logging.Logger;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Random and mutated descriptor chains against virtio-blk. The budget is {@code -Dflint.virtio.fuzz.chains}
 * (default 20,000) and the seed {@code -Dflint.virtio.fuzz.seed} (default: time, logged). Asserts that no
 * exception escapes to the I/O thread (it would be logged SEVERE), that the device never stalls (every
 * published chain is used unless the device asks for a reset), and that it serves a good request after.
 * Guest RAM accesses outside RAM are refused by GuestMemory and show up as the device's guest errors.
 */
class VirtioBlockFuzzTest {
    private static final Logger LOG = Logger.getLogger(VirtioBlockFuzzTest.class.getName());
    private static final long RAM = 16 << 20, AREA = 8 << 20, AREA_SIZE = RAM - AREA;

    @TempDir
    Path dir;

    @Test
    void randomAndMutatedChainsNeverEscapeAndNeverStall() throws IOException {
        int budget = Integer.getInteger("flint.virtio.fuzz.chains", 20_000);
        long seed = Long.getLong("flint.virtio.fuzz.seed", System.nanoTime());
        Random r = new Random(seed);
        Path img = dir.resolve("fuzz.img");
        Files.write(img, new byte[1 << 20]);
        long start = System.nanoTime();
        int submitted = 0, resets = 0;
        try (SevereLogCounter severe = new SevereLogCounter();
             BlockRig rig = new BlockRig(new DriveConfig(img, false), RAM).start(true)) {
            while (submitted < budget) {
                VirtioTestDriver.Queue q = rig.queue;
                int batch = 1 + r.nextInt(8);
                for (int i = 0; i < batch; i++) {
                    publishFuzzChain(rig, q, r);
                    submitted++;
                }
                if (r.nextInt(200) == 0) q.setAvailIndex(q.availIndex() + r.nextInt(2 * q.size)); // stale or wild heads
                q.kick();
                if (!q.drain(10_000)) {
                    resets++;
                    q.resyncAfterReset();
                    rig.start(true);
                }
            }
            long seconds = (System.nanoTime() - start) / 1_000_000_000;
            LOG.info(String.format("virtio-blk fuzz: seed %d, %d chains submitted, %d used, %d device resets (NEEDS_RESET), "
                            + "%d guest errors (buffers outside RAM, malformed), %d s",
                    seed, submitted, rig.device.completedChains(), resets, rig.device.guestErrors(), seconds));
            assertEquals(0, severe.count(), "an exception escaped to the I/O thread (seed " + seed + ")");

            byte[] data = new byte[8192];
            new Random(seed).nextBytes(data);
            rig.memory.write(BlockRig.DATA, data);
            assertEquals(VirtioBlock.S_OK, rig.write(8, BlockRig.DATA, data.length), "still serves after the fuzz");
            rig.memory.write(BlockRig.DATA, new byte[data.length]);
            assertEquals(VirtioBlock.S_OK, rig.read(8, BlockRig.DATA, data.length));
            byte[] back = new byte[data.length];
            rig.memory.read(BlockRig.DATA, back, 0, back.length);
            assertArrayEquals(data, back);
        }
    }

    /** One chain: raw garbage, or a block request with plausible or hostile fields, maybe mutated. */
    private static void publishFuzzChain(BlockRig rig, VirtioTestDriver.Queue q, Random r) {
        var mem = rig.memory;
        if (r.nextInt(10) == 0) { // raw descriptors
            int n = 1 + r.nextInt(4);
            int head = q.addChain(java.util.Collections.nCopies(n, Segment.in(0, 0)));
            for (int i = 0; i < n; i++) {
                long d = q.desc + 16L * ((head + i) % q.size);
                mem.writeLong(d, r.nextBoolean() ? r.nextLong() : AREA + r.nextInt((int) AREA_SIZE));
                mem.writeLong(d + 8, r.nextLong());
            }
            q.publish(r.nextInt(20) == 0 ? r.nextInt(0x10000) : head);
            return;
        }
        long header = address(r, 16);
        int[] types = {VirtioBlock.T_IN, VirtioBlock.T_OUT, VirtioBlock.T_FLUSH, VirtioBlock.T_GET_ID, VirtioBlock.T_WRITE_ZEROES};
        int type = r.nextInt(8) == 0 ? r.nextInt() : types[r.nextInt(types.length)];
        long sector = switch (r.nextInt(4)) {
            case 0 -> r.nextLong();
            case 1 -> 2048 - r.nextInt(8);
            default -> r.nextInt(2048);
        };
        if (rig.memory.isRam(header, 16)) {
            mem.writeInt(header, type);
            mem.writeLong(header + 8, sector);
        }
        List<Segment> segments = new ArrayList<>();
        segments.add(Segment.in(header, r.nextInt(10) == 0 ? r.nextInt(32) : 16));
        boolean deviceWrites = type != VirtioBlock.T_OUT && type != VirtioBlock.T_WRITE_ZEROES;
        for (int n = r.nextInt(5); n > 0; n--) {
            long length = switch (r.nextInt(6)) {
                case 0 -> r.nextInt() & 0xFFFF_FFFFL;
                case 1 -> 0;
                case 2 -> r.nextInt(4096);
                default -> 512L * (1 + r.nextInt(128));
            };
            boolean writable = r.nextInt(8) == 0 ? r.nextBoolean() : deviceWrites;
            segments.add(new Segment(address(r, length), length, writable));
        }
        if (r.nextInt(20) != 0) segments.add(Segment.out(address(r, 1), 1));
        long table = AREA + (r.nextLong(AREA_SIZE - 16L * segments.size()) & ~15L); // built in RAM; mutate may move it
        int head = r.nextInt(5) == 0 ? q.addIndirect(segments, table) : q.addChain(segments);
        if (r.nextInt(4) == 0) mutate(rig, q, head, r);
        q.publish(head);
    }

    /** Corrupts one field of one descriptor of the chain just written. */
    private static void mutate(BlockRig rig, VirtioTestDriver.Queue q, int head, Random r) {
        long d = q.desc + 16L * ((head + r.nextInt(3)) % q.size);
        switch (r.nextInt(4)) {
            case 0 -> rig.memory.writeLong(d, r.nextLong());
            case 1 -> rig.memory.writeInt(d + 8, r.nextInt());
            case 2 -> rig.memory.writeShort(d + 12, (short) r.nextInt(8));
            default -> rig.memory.writeShort(d + 14, (short) (r.nextBoolean() ? r.nextInt(q.size) : r.nextInt(0x10000)));
        }
    }

    /** Mostly inside the fuzz area of RAM, sometimes straddling its end, sometimes anywhere at all. */
    private static long address(Random r, long length) {
        return switch (r.nextInt(10)) {
            case 0 -> r.nextLong();
            case 1 -> RAM - r.nextInt(4096);
            default -> AREA + (r.nextLong(Math.max(1, AREA_SIZE - Math.min(length, AREA_SIZE))) & ~7L);
        };
    }
}
