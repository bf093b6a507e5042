package dev.flint.devices.nvme;

import dev.flint.devices.nvme.NvmeTestDriver.Command;
import dev.flint.devices.virtio.block.DriveConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** What a hostile or broken driver can do to the controller, and that it survives each and serves again. */
class NvmeHostileTest {
    private static final long RAM = 16 << 20, OUTSIDE_RAM = 0xF000_0000L;

    @TempDir
    Path dir;
    private NvmeRig rig;

    @BeforeEach
    void setUp() throws IOException {
        Path img = Files.write(dir.resolve("disk.img"), new byte[4 << 20]);
        rig = new NvmeRig(List.of(new DriveConfig(img, false, DriveConfig.Interface.NVME, null)), 1, RAM).start();
    }

    @AfterEach
    void tearDown() {
        rig.close();
    }

    private void assertServes() {
        assertEquals(0, rig.read(1, 0, 8, NvmeRig.DATA).status(), "still serves");
    }

    @Test
    void dataOutsideRamFailsTheCommandOnly() {
        assertEquals(NvmeSpec.SC_DATA_TRANSFER_ERROR, rig.read(1, 0, 8, OUTSIDE_RAM).status());
        assertEquals(NvmeSpec.SC_DATA_TRANSFER_ERROR, rig.read(1, 0, 16, RAM - 4096).status(), "straddles the end of RAM");
        assertEquals(NvmeSpec.SC_DATA_TRANSFER_ERROR, rig.queue.run(Command.of(NvmeSpec.IO_READ).nsid(1).prp1(NvmeRig.DATA)
                .prp2(OUTSIDE_RAM).lba(0, 64)).status(), "PRP list outside RAM");
        assertEquals(NvmeSpec.SC_INVALID_PRP_OFFSET, rig.queue.run(Command.of(NvmeSpec.IO_READ).nsid(1).prp1(NvmeRig.DATA)
                .prp2(NvmeRig.DATA + 4096 + 8).lba(0, 16)).status(), "a second page with an offset");
        rig.memory.writeLong(NvmeRig.LIST, NvmeRig.LIST); // a list whose entries point back into itself with offsets
        rig.memory.writeLong(NvmeRig.LIST + 8, NvmeRig.LIST + 12);
        assertEquals(NvmeSpec.SC_INVALID_PRP_OFFSET, rig.queue.run(Command.of(NvmeSpec.IO_READ).nsid(1).prp1(NvmeRig.DATA)
                .prp2(NvmeRig.LIST).lba(0, 64)).status());
        assertTrue(rig.device.guestErrors() >= 3);
        assertEquals(0, rig.driver.reg(NvmeSpec.REG_CSTS, 4) & NvmeSpec.CSTS_CFS);
        assertServes();
    }

    @Test
    void aListPageThatChainsToItselfEndsWithTheTransfer() {
        for (int i = 0; i < 512; i++) rig.memory.writeLong(NvmeRig.LIST + 8L * i, NvmeRig.LIST); // every entry, the link too
        assertEquals(0, rig.queue.run(Command.of(NvmeSpec.IO_READ).nsid(1).prp1(NvmeRig.DATA).prp2(NvmeRig.LIST)
                .lba(0, 2048)).status(), "1 MiB into the same page over and over: odd but harmless");
        assertEquals(NvmeSpec.SC_INVALID_FIELD, rig.queue.run(Command.of(NvmeSpec.IO_READ).nsid(1).prp1(NvmeRig.DATA)
                .prp2(NvmeRig.LIST).lba(0, 2049)).status(), "beyond MDTS");
    }

    @Test
    void adminQueuesOutsideRamMakeEnableFailUntilReset() {
        rig.driver.setReg(NvmeSpec.REG_CC, 4, 0);
        rig.driver.setReg(NvmeSpec.REG_ASQ, 8, OUTSIDE_RAM);
        rig.driver.setReg(NvmeSpec.REG_CC, 4, 4 << 20 | 6 << 16 | 1);
        NvmeTestDriver.await(() -> (rig.driver.reg(NvmeSpec.REG_CSTS, 4) & NvmeSpec.CSTS_CFS) != 0, "controller fatal status");
        assertEquals(0, rig.driver.reg(NvmeSpec.REG_CSTS, 4) & NvmeSpec.CSTS_RDY);
        rig.driver.enable();
        rig.queue = rig.driver.createIoQueue(1);
        assertServes();
    }

    @Test
    void ioQueuesOutsideRamOrMisalignedAreRefused() {
        var admin = rig.driver.admin;
        assertEquals(0, admin.run(Command.of(NvmeSpec.ADMIN_DELETE_SQ).cdw10(1)).status());
        assertEquals(NvmeSpec.SC_INVALID_FIELD, admin.run(Command.of(NvmeSpec.ADMIN_CREATE_SQ).prp1(OUTSIDE_RAM)
                .cdw10(63 << 16 | 1).cdw11(1 << 16 | 1)).status());
        assertEquals(NvmeSpec.SC_INVALID_FIELD, admin.run(Command.of(NvmeSpec.ADMIN_CREATE_SQ).prp1(RAM - 4096)
                .cdw10(127 << 16 | 1).cdw11(1 << 16 | 1)).status(), "straddles the end of RAM");
        assertEquals(NvmeSpec.SC_INVALID_FIELD, admin.run(Command.of(NvmeSpec.ADMIN_CREATE_SQ).prp1(0x80010)
                .cdw10(63 << 16 | 1).cdw11(1 << 16 | 1)).status(), "not page aligned");
        assertEquals(NvmeSpec.SC_INVALID_QUEUE_SIZE, admin.run(Command.of(NvmeSpec.ADMIN_CREATE_SQ).prp1(0x80000)
                .cdw10(0xFFFF << 16 | 1).cdw11(1 << 16 | 1)).status(), "beyond MQES");
        assertTrue(rig.device.guestErrors() >= 2);
        rig.driver.enable();
        rig.queue = rig.driver.createIoQueue(1);
        assertServes();
    }

    @Test
    void wildDoorbellsAreIgnoredAndTheQueueRecovers() {
        rig.queue.ringTail(1000); // beyond the 64-entry queue
        rig.mmio.write(NvmeTestDriver.BAR + 0x1000 + 8 * 40, 4, 5); // a queue that does not exist
        rig.mmio.write(NvmeTestDriver.BAR + 0x1000 + 8, 2, 3); // a 2-byte write
        rig.mmio.write(NvmeTestDriver.BAR + 0x14, 1, 0); // a 1-byte write to CC
        NvmeTestDriver.await(() -> rig.device.guestErrors() > 0, "the tail beyond the queue counted as a guest error");
        rig.queue.ringTail(rig.queue.tail); // the driver's real tail again
        assertEquals(1, rig.driver.reg(NvmeSpec.REG_CSTS, 4) & 1, "still enabled");
        assertServes();
    }

    @Test
    void tooManyEventRequestsAreRefused() {
        for (int i = 0; i < NvmeSpec.AER_LIMIT; i++) rig.driver.admin.put(Command.of(NvmeSpec.ADMIN_ASYNC_EVENT));
        rig.driver.admin.ring();
        assertEquals(NvmeSpec.SC_AER_LIMIT, rig.driver.admin.run(Command.of(NvmeSpec.ADMIN_ASYNC_EVENT)).status());
        assertServes();
    }

    @Test
    void aFullCompletionQueueStallsOnlyUntilTheDriverConsumes() {
        var q = rig.queue;
        for (int i = 0; i < 63; i++) q.put(rig.rw(NvmeSpec.IO_READ, 1, 0, 1, NvmeRig.DATA));
        q.ring(); // 63 completions fill the 64-entry CQ to its limit (one slot always stays free)
        long last = q.cq + 62 * 16L + 12;
        NvmeTestDriver.await(() -> ((rig.memory.readInt(last) >>> 16) & 1) == 1, "63 completions");
        q.put(rig.rw(NvmeSpec.IO_READ, 1, 0, 1, NvmeRig.DATA));
        q.ring();
        for (int i = 0; i < 63; i++) assertNotNull(q.poll(1000)); // each poll rings the head doorbell
        assertNotNull(q.poll(5000), "the 64th completes once there is room");
        assertServes();
    }
}
