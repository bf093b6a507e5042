package dev.flint.devices.nvme;

import dev.flint.devices.nvme.NvmeTestDriver.Command;
import dev.flint.devices.nvme.NvmeTestDriver.Completion;
import dev.flint.devices.virtio.SevereLogCounter;
import dev.flint.devices.virtio.block.DriveConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.logging.Logger;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Random and mutated commands against the NVMe controller, on the admin queue and an I/O queue: random
 * opcodes, namespace IDs, LBAs and lengths, PRP entries inside, across the end of and far outside RAM,
 * PRP lists full of garbage, whole entries of random bytes, wild doorbell values. The budget is
 * {@code -Dflint.nvme.fuzz.commands} (default 10,000), the seed {@code -Dflint.nvme.fuzz.seed} (default:
 * time, logged). Asserts that nothing escapes to the I/O thread (it would be logged SEVERE), that the
 * controller never declares itself failed, and that it serves good requests afterwards. Guest RAM
 * accesses outside RAM are refused by GuestMemory and counted as the controller's guest errors.
 */
class NvmeFuzzTest {
    private static final Logger LOG = Logger.getLogger(NvmeFuzzTest.class.getName());
    private static final long RAM = 16 << 20, AREA = 8 << 20, AREA_SIZE = RAM - AREA;
    private static final int BLOCKS = 2048;

    @TempDir
    Path dir;

    @Test
    void randomAndMutatedCommandsNeverEscapeAndNeverBreakTheController() throws IOException {
        int budget = Integer.getInteger("flint.nvme.fuzz.commands", 10_000);
        long seed = Long.getLong("flint.nvme.fuzz.seed", System.nanoTime());
        Random r = new Random(seed);
        Path img = Files.write(dir.resolve("fuzz.img"), new byte[BLOCKS * 512]);
        Path ro = Files.write(dir.resolve("ro.img"), new byte[BLOCKS * 512]);
        long start = System.nanoTime();
        int submitted = 0, completed = 0, resets = 0;
        try (SevereLogCounter severe = new SevereLogCounter();
             NvmeRig rig = new NvmeRig(List.of(new DriveConfig(img, false, DriveConfig.Interface.NVME, null),
                     new DriveConfig(ro, true, DriveConfig.Interface.NVME, null)), 2, RAM).start()) {
            while (submitted < budget) {
                boolean onAdmin = r.nextInt(5) == 0;
                NvmeTestDriver.Queue q = onAdmin ? rig.driver.admin : rig.queue;
                int batch = 1 + r.nextInt(8);
                for (int i = 0; i < batch; i++) {
                    q.put(onAdmin ? adminCommand(r) : ioCommand(rig, r));
                    submitted++;
                }
                if (r.nextInt(100) == 0) q.ringTail(r.nextInt(0x10000)); // a wild tail first
                if (r.nextInt(200) == 0) rig.mmio.write(NvmeTestDriver.BAR + 0x1000 + r.nextInt(0x1000), 1 + r.nextInt(4), r.nextLong());
                q.ring();
                int got = 0;
                for (Completion c; got < batch && (c = q.poll(got == 0 ? 500 : 100)) != null; got++) completed++;
                assertEquals(0, rig.driver.reg(NvmeSpec.REG_CSTS, 4) & NvmeSpec.CSTS_CFS, "controller failed (seed " + seed + ")");
                if (got < batch) { // a queue was deleted, an event request is waiting, or a doorbell went wild
                    resets++;
                    rig.driver.enable();
                    rig.queue = rig.driver.createIoQueue(1);
                }
            }
            long seconds = (System.nanoTime() - start) / 1_000_000_000;
            LOG.info(String.format("nvme fuzz: seed %d, %d commands submitted, %d completed, %d controller resets, "
                    + "%d guest errors, %d s", seed, submitted, completed, resets, rig.device.guestErrors(), seconds));
            assertEquals(0, severe.count(), "an exception escaped to the I/O thread (seed " + seed + ")");

            rig.driver.enable();
            rig.queue = rig.driver.createIoQueue(1);
            byte[] data = new byte[8192];
            new Random(seed).nextBytes(data);
            rig.memory.write(NvmeRig.DATA, data);
            assertEquals(0, rig.write(1, 8, 16, NvmeRig.DATA).status(), "still serves after the fuzz");
            rig.memory.write(NvmeRig.DATA, new byte[data.length]);
            assertEquals(0, rig.read(1, 8, 16, NvmeRig.DATA).status());
            byte[] back = new byte[data.length];
            rig.memory.read(NvmeRig.DATA, back, 0, back.length);
            assertArrayEquals(data, back);
        }
    }

    private static Command adminCommand(Random r) {
        int[] opcodes = {NvmeSpec.ADMIN_IDENTIFY, NvmeSpec.ADMIN_GET_LOG_PAGE, NvmeSpec.ADMIN_GET_FEATURES,
                NvmeSpec.ADMIN_SET_FEATURES, NvmeSpec.ADMIN_CREATE_CQ, NvmeSpec.ADMIN_CREATE_SQ, NvmeSpec.ADMIN_DELETE_SQ,
                NvmeSpec.ADMIN_DELETE_CQ, NvmeSpec.ADMIN_ABORT, NvmeSpec.ADMIN_DOORBELL_BUFFER_CONFIG};
        int opcode = r.nextInt(10) == 0 ? r.nextInt(256) : r.nextInt(200) == 0 ? NvmeSpec.ADMIN_ASYNC_EVENT
                : opcodes[r.nextInt(opcodes.length)];
        Command c = Command.of(opcode).nsid(nsid(r)).prp1(address(r)).prp2(address(r))
                .cdw10(r.nextBoolean() ? r.nextInt() : r.nextInt(16) | r.nextInt(1024) << 16)
                .cdw11(r.nextBoolean() ? r.nextInt() : r.nextInt(4) | r.nextInt(4) << 16).cdw12(r.nextInt(8) == 0 ? r.nextInt() : 0);
        if (opcode == NvmeSpec.ADMIN_DELETE_SQ || opcode == NvmeSpec.ADMIN_DELETE_CQ) c.cdw10(r.nextInt(4)); // sometimes our own queue
        if (opcode == NvmeSpec.ADMIN_SET_FEATURES && r.nextInt(4) == 0) c.cdw10(NvmeSpec.FEAT_QUEUES);
        if (r.nextInt(20) == 0) garbage(c, r);
        return c;
    }

    private static Command ioCommand(NvmeRig rig, Random r) {
        int[] opcodes = {NvmeSpec.IO_READ, NvmeSpec.IO_WRITE, NvmeSpec.IO_FLUSH, NvmeSpec.IO_WRITE_ZEROES, NvmeSpec.IO_DSM};
        int opcode = r.nextInt(10) == 0 ? r.nextInt(256) : opcodes[r.nextInt(opcodes.length)];
        long lba = switch (r.nextInt(4)) {
            case 0 -> r.nextLong();
            case 1 -> BLOCKS - r.nextInt(16);
            default -> r.nextInt(BLOCKS);
        };
        int blocks = r.nextInt(6) == 0 ? 1 + r.nextInt(0x10000) : 1 + r.nextInt(256);
        long buffer = address(r);
        Command c;
        if (r.nextBoolean() && rig.memory.isRam(buffer, 8)) {
            c = rig.rw(opcode, nsid(r), lba, Math.min(blocks, 2048), AREA + (buffer & (AREA_SIZE - 1) & ~3L));
        } else {
            c = Command.of(opcode).nsid(nsid(r)).prp1(buffer).prp2(r.nextInt(3) == 0 ? listInArea(rig, r) : address(r)).lba(lba, blocks);
        }
        if (opcode == NvmeSpec.IO_DSM) c.cdw10(r.nextInt(256)).cdw11(r.nextInt(8));
        if (r.nextInt(10) == 0) c.cdw12(r.nextInt());
        if (r.nextInt(30) == 0) c.cdw0Flags(r.nextInt(256)); // fused / SGL bits
        if (r.nextInt(30) == 0) garbage(c, r);
        return c;
    }

    /** A PRP list of random entries (page addresses in the area, garbage, pointers to itself) in the area. */
    private static long listInArea(NvmeRig rig, Random r) {
        long list = AREA + (r.nextLong(AREA_SIZE - 4096) & ~4095L) + (r.nextInt(8) == 0 ? r.nextInt(4096) & ~7 : 0);
        for (int i = 0; i < 512 && list + 8L * i + 8 <= RAM; i++) {
            long entry = switch (r.nextInt(6)) {
                case 0 -> r.nextLong();
                case 1 -> list & ~4095L;
                default -> AREA + (r.nextLong(AREA_SIZE - 4096) & ~4095L);
            };
            rig.memory.writeLong(list + 8L * i, entry);
        }
        return list;
    }

    private static void garbage(Command c, Random r) {
        byte[] noise = new byte[64];
        r.nextBytes(noise);
        noise[0] = c.b.get(0);
        c.b.put(0, noise, 0, 64);
    }

    private static int nsid(Random r) {
        return switch (r.nextInt(8)) {
            case 0 -> r.nextInt();
            case 1 -> -1;
            case 2 -> 0;
            case 3 -> 2;
            default -> 1;
        };
    }

    /** Mostly inside the fuzz area, sometimes straddling the end of RAM, sometimes anywhere at all. */
    private static long address(Random r) {
        return switch (r.nextInt(10)) {
            case 0 -> r.nextLong();
            case 1 -> RAM - r.nextInt(4096);
            case 2 -> 0xF000_0000L + r.nextInt(1 << 20);
            default -> AREA + (r.nextLong(AREA_SIZE) & ~3L);
        };
    }
}
