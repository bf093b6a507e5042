package dev.flint.devices.nvme;

import dev.flint.devices.nvme.NvmeTestDriver.Command;
import dev.flint.devices.nvme.NvmeTestDriver.Completion;
import dev.flint.devices.virtio.block.DriveConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** The controller as Linux's driver uses it, driven from the host through its registers and queues. */
class NvmeControllerTest {
    private static final long RAM = 16 << 20;
    private static final int DISK = 4 << 20;

    @TempDir
    Path dir;
    private Path data, readOnly;
    private byte[] content;
    private NvmeRig rig;

    @BeforeEach
    void setUp() throws IOException {
        content = new byte[DISK];
        new Random(7).nextBytes(content);
        data = Files.write(dir.resolve("data.img"), content);
        readOnly = Files.write(dir.resolve("ro.img"), content);
        rig = new NvmeRig(List.of(new DriveConfig(data, false, DriveConfig.Interface.NVME, null),
                new DriveConfig(readOnly, true, DriveConfig.Interface.NVME, null)), 2, RAM).start();
    }

    @AfterEach
    void tearDown() {
        rig.close();
    }

    private byte[] identify(int cns, int nsid) {
        Completion c = rig.driver.admin.run(Command.of(NvmeSpec.ADMIN_IDENTIFY).nsid(nsid).prp1(NvmeRig.DATA).cdw10(cns));
        assertEquals(0, c.status(), "identify CNS " + cns);
        byte[] b = new byte[4096];
        rig.memory.read(NvmeRig.DATA, b, 0, b.length);
        return b;
    }

    private static String ascii(byte[] b, int at, int len) {
        return new String(b, at, len, StandardCharsets.US_ASCII);
    }

    @Test
    void identifyTellsSerialModelLimitsAndNamespaces() {
        byte[] ctrl = identify(NvmeSpec.CNS_CONTROLLER, 0);
        assertEquals("vol0123456789abcdef0", ascii(ctrl, 4, 20));
        assertEquals(NvmeIdentity.DEFAULT_MODEL, ascii(ctrl, 24, 40).strip());
        assertEquals(NvmeSpec.MDTS, ctrl[77]);
        assertEquals(0x0C, ctrl[520], "ONCS: dataset management and write zeroes");
        assertEquals(1, ctrl[525], "a volatile write cache, so Linux sends Flush");
        byte[] list = identify(NvmeSpec.CNS_ACTIVE_NAMESPACES, 0);
        assertArrayEquals(new byte[] {1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0}, Arrays.copyOf(list, 12));
        byte[] ns = identify(NvmeSpec.CNS_NAMESPACE, 1);
        assertEquals(DISK / 512, java.nio.ByteBuffer.wrap(ns).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong(0));
        assertEquals(9, ns[130], "512-byte blocks");
        assertEquals(0, ns[99], "writable");
        assertEquals(1, identify(NvmeSpec.CNS_NAMESPACE, 2)[99], "namespace 2 is write protected");
        byte[] other = identify(NvmeSpec.CNS_NAMESPACE, 2);
        assertFalse(Arrays.equals(Arrays.copyOfRange(ns, 104, 120), Arrays.copyOfRange(other, 104, 120)), "NGUIDs differ");
        byte[] descriptors = identify(NvmeSpec.CNS_NAMESPACE_DESCRIPTORS, 1);
        assertEquals(2, descriptors[0], "NGUID descriptor");
        assertArrayEquals(Arrays.copyOfRange(ns, 104, 120), Arrays.copyOfRange(descriptors, 4, 20));
        assertEquals(0, identify(NvmeSpec.CNS_NAMESPACE, 9)[0], "an inactive namespace reads as zeroes");
    }

    @Test
    void readsAndWritesThroughPrpEntriesAndLists() throws IOException {
        // 64 KiB from an offset inside a page: PRP1 with an offset, then a PRP list.
        long buffer = NvmeRig.DATA + 512;
        assertEquals(0, rig.read(1, 100, 128, buffer).status());
        byte[] got = new byte[128 * 512];
        rig.memory.read(buffer, got, 0, got.length);
        assertArrayEquals(Arrays.copyOfRange(content, 100 * 512, 228 * 512), got);

        byte[] fresh = new byte[8 * 512]; // two pages: PRP1 and PRP2
        new Random(8).nextBytes(fresh);
        rig.memory.write(NvmeRig.DATA, fresh);
        assertEquals(0, rig.write(1, 8, 8, NvmeRig.DATA).status());
        assertEquals(0, rig.queue.run(Command.of(NvmeSpec.IO_FLUSH).nsid(1)).status());
        assertArrayEquals(fresh, Arrays.copyOfRange(Files.readAllBytes(data), 8 * 512, 16 * 512));
        assertEquals(1, rig.device.counters().get("flush_count"));
        assertEquals(fresh.length, rig.device.counters().get("write_bytes"));
    }

    @Test
    void aReadOnlyNamespaceRefusesWritesAndStaysUntouched() throws IOException {
        Completion c = rig.write(2, 0, 8, NvmeRig.DATA);
        assertEquals(NvmeSpec.SC_WRITE_PROTECTED, c.status());
        assertEquals(NvmeSpec.SC_WRITE_PROTECTED, rig.queue.run(Command.of(NvmeSpec.IO_WRITE_ZEROES).nsid(2).lba(0, 8)).status());
        assertEquals(NvmeSpec.SC_WRITE_PROTECTED, rig.queue.run(Command.of(NvmeSpec.IO_DSM).nsid(2).prp1(NvmeRig.DATA).cdw11(4)).status());
        assertEquals(0, rig.read(2, 0, 8, NvmeRig.DATA).status());
        assertArrayEquals(content, Files.readAllBytes(readOnly));
    }

    @Test
    void writeZeroesAndDeallocateLeaveZeroes() throws IOException {
        assertEquals(0, rig.queue.run(Command.of(NvmeSpec.IO_WRITE_ZEROES).nsid(1).lba(16, 16)).status());
        // One range: 256 blocks at LBA 4096 (hole punching works on page-aligned ranges of common file systems).
        rig.memory.writeInt(NvmeRig.DATA, 0);
        rig.memory.writeInt(NvmeRig.DATA + 4, 256);
        rig.memory.writeLong(NvmeRig.DATA + 8, 4096);
        assertEquals(0, rig.queue.run(Command.of(NvmeSpec.IO_DSM).nsid(1).prp1(NvmeRig.DATA).cdw10(0).cdw11(4)).status());
        byte[] disk = Files.readAllBytes(data);
        assertArrayEquals(new byte[16 * 512], Arrays.copyOfRange(disk, 16 * 512, 32 * 512));
        assertArrayEquals(new byte[256 * 512], Arrays.copyOfRange(disk, 4096 * 512, 4352 * 512));
        assertArrayEquals(Arrays.copyOfRange(content, 32 * 512, 4096 * 512), Arrays.copyOfRange(disk, 32 * 512, 4096 * 512),
                "nothing else changed");
        rig.memory.writeLong(NvmeRig.DATA + 8, DISK / 512 - 10);
        assertEquals(NvmeSpec.SC_LBA_OUT_OF_RANGE,
                rig.queue.run(Command.of(NvmeSpec.IO_DSM).nsid(1).prp1(NvmeRig.DATA).cdw10(0).cdw11(4)).status());
    }

    @Test
    void aNamespaceAttachedAtRunTimeIsAnnouncedAndListed() throws IOException {
        assertEquals(0, rig.driver.admin.run(Command.of(NvmeSpec.ADMIN_SET_FEATURES).cdw10(NvmeSpec.FEAT_ASYNC_EVENTS)
                .cdw11(NvmeSpec.AEN_NAMESPACE_ATTRIBUTE)).status());
        int aer = rig.driver.admin.put(Command.of(NvmeSpec.ADMIN_ASYNC_EVENT));
        rig.driver.admin.ring();
        assertNull(rig.driver.admin.poll(100), "an event request waits for an event");
        Path hot = Files.write(dir.resolve("hot.img"), new byte[1 << 20]);
        assertEquals(3, rig.device.attach(new DriveConfig(hot, false, DriveConfig.Interface.NVME, "hot")));
        Completion event = rig.driver.admin.poll(10_000);
        assertNotNull(event, "Namespace Attribute Changed event");
        assertEquals(aer, event.cid());
        assertEquals(NvmeSpec.EVENT_NAMESPACE_CHANGED, event.dw0());
        assertTrue(rig.irq.msis.stream().anyMatch(m -> m.data() == 0x40), "the admin vector fired");

        int aer2 = rig.driver.admin.put(Command.of(NvmeSpec.ADMIN_ASYNC_EVENT));
        rig.driver.admin.ring();
        Path hot2 = Files.write(dir.resolve("hot2.img"), new byte[1 << 20]);
        assertEquals(4, rig.device.attach(new DriveConfig(hot2, false, DriveConfig.Interface.NVME, null)));
        assertNull(rig.driver.admin.poll(200), "masked until the driver reads the changed namespace list");
        Completion log = rig.driver.admin.run(Command.of(NvmeSpec.ADMIN_GET_LOG_PAGE).nsid(-1).prp1(NvmeRig.DATA)
                .cdw10(1023 << 16 | NvmeSpec.LOG_CHANGED_NAMESPACES));
        assertEquals(0, log.status());
        assertEquals(3, rig.memory.readInt(NvmeRig.DATA));
        assertEquals(4, rig.memory.readInt(NvmeRig.DATA + 4));
        assertEquals(0, rig.memory.readInt(NvmeRig.DATA + 8));
        assertArrayEquals(new byte[] {1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0},
                Arrays.copyOf(identify(NvmeSpec.CNS_ACTIVE_NAMESPACES, 0), 16));
        assertEquals(0, rig.read(3, 0, 8, NvmeRig.DATA).status(), "the new namespace serves I/O");
        assertNotEquals(aer2, 0);
    }

    @Test
    void aDetachedNamespaceIsAnnouncedLeavesTheListAndItsImageIsFree() throws IOException {
        assertEquals(0, rig.driver.admin.run(Command.of(NvmeSpec.ADMIN_SET_FEATURES).cdw10(NvmeSpec.FEAT_ASYNC_EVENTS)
                .cdw11(NvmeSpec.AEN_NAMESPACE_ATTRIBUTE)).status());
        int aer = rig.driver.admin.put(Command.of(NvmeSpec.ADMIN_ASYNC_EVENT));
        rig.driver.admin.ring();
        assertNull(rig.driver.admin.poll(100), "an event request waits for an event");
        Path hot = Files.write(dir.resolve("hot.img"), new byte[1 << 20]);
        assertEquals(3, rig.device.attach(new DriveConfig(hot, false, DriveConfig.Interface.NVME, "hot")));
        assertNotNull(rig.driver.admin.poll(10_000), "the attach's event");
        assertEquals(0, rig.driver.admin.run(Command.of(NvmeSpec.ADMIN_GET_LOG_PAGE).nsid(-1).prp1(NvmeRig.DATA)
                .cdw10(1023 << 16 | NvmeSpec.LOG_CHANGED_NAMESPACES)).status(), "reading the log unmasks the event");
        int aer2 = rig.driver.admin.put(Command.of(NvmeSpec.ADMIN_ASYNC_EVENT));
        rig.driver.admin.ring();
        assertNull(rig.driver.admin.poll(100), "the second request waits too");

        rig.device.detach(3);
        Completion event = rig.driver.admin.poll(10_000);
        assertNotNull(event, "Namespace Attribute Changed event for the detach");
        assertEquals(aer2, event.cid());
        assertEquals(NvmeSpec.EVENT_NAMESPACE_CHANGED, event.dw0());
        assertEquals(0, rig.driver.admin.run(Command.of(NvmeSpec.ADMIN_GET_LOG_PAGE).nsid(-1).prp1(NvmeRig.DATA)
                .cdw10(1023 << 16 | NvmeSpec.LOG_CHANGED_NAMESPACES)).status());
        assertEquals(3, rig.memory.readInt(NvmeRig.DATA), "the changed list names it");
        assertArrayEquals(new byte[] {1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0},
                Arrays.copyOf(identify(NvmeSpec.CNS_ACTIVE_NAMESPACES, 0), 12), "no longer active");
        assertEquals(NvmeSpec.SC_INVALID_NAMESPACE, rig.read(3, 0, 8, NvmeRig.DATA).status(), "I/O to it fails");
        // Its image is closed and unlocked: it can be attached again, here or in another machine.
        assertEquals(3, rig.device.attach(new DriveConfig(hot, false, DriveConfig.Interface.NVME, "hot")));
        assertEquals(0, rig.read(3, 0, 8, NvmeRig.DATA).status());
        assertThrows(IllegalArgumentException.class, () -> rig.device.detach(7));
        assertNotEquals(aer, aer2);
    }

    @Test
    void aGrownNamespaceIsAnnouncedAndServesItsNewBlocks() throws IOException {
        assertEquals(0, rig.driver.admin.run(Command.of(NvmeSpec.ADMIN_SET_FEATURES).cdw10(NvmeSpec.FEAT_ASYNC_EVENTS)
                .cdw11(NvmeSpec.AEN_NAMESPACE_ATTRIBUTE)).status());
        Path hot = Files.write(dir.resolve("grow.img"), new byte[1 << 20]);
        assertEquals(3, rig.device.attach(new DriveConfig(hot, false, DriveConfig.Interface.NVME, "grow")));
        // The event came before the request: the request is answered with it at once.
        int aer = rig.driver.admin.put(Command.of(NvmeSpec.ADMIN_ASYNC_EVENT));
        rig.driver.admin.ring();
        assertNotNull(rig.driver.admin.poll(10_000), "the attach's event");
        assertEquals(0, rig.driver.admin.run(Command.of(NvmeSpec.ADMIN_GET_LOG_PAGE).nsid(-1).prp1(NvmeRig.DATA)
                .cdw10(1023 << 16 | NvmeSpec.LOG_CHANGED_NAMESPACES)).status());
        int aer2 = rig.driver.admin.put(Command.of(NvmeSpec.ADMIN_ASYNC_EVENT));
        rig.driver.admin.ring();
        assertEquals(NvmeSpec.SC_LBA_OUT_OF_RANGE, rig.read(3, 2048, 8, NvmeRig.DATA).status(), "beyond 1 MiB before the growth");

        assertEquals(2048, rig.device.resize(3), "the same size: nothing to announce");
        assertNull(rig.driver.admin.poll(200), "no event for an unchanged size");
        try (var f = new java.io.RandomAccessFile(hot.toFile(), "rw")) {
            f.setLength(4 << 20);
        }
        assertEquals(8192, rig.device.resize(3));
        Completion event = rig.driver.admin.poll(10_000);
        assertNotNull(event, "Namespace Attribute Changed event for the new size");
        assertEquals(aer2, event.cid());
        assertEquals(NvmeSpec.EVENT_NAMESPACE_CHANGED, event.dw0());
        assertEquals(0, rig.driver.admin.run(Command.of(NvmeSpec.ADMIN_GET_LOG_PAGE).nsid(-1).prp1(NvmeRig.DATA)
                .cdw10(1023 << 16 | NvmeSpec.LOG_CHANGED_NAMESPACES)).status());
        assertEquals(3, rig.memory.readInt(NvmeRig.DATA), "the changed list names it");
        byte[] id = identify(NvmeSpec.CNS_NAMESPACE, 3);
        assertEquals(8192, java.nio.ByteBuffer.wrap(id).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong(0), "NSZE is the new size");
        assertEquals(0, rig.read(3, 8184, 8, NvmeRig.DATA).status(), "the new last blocks read");

        // A file that shrank under the guest is refused; the namespace keeps its size.
        try (var f = new java.io.RandomAccessFile(hot.toFile(), "rw")) {
            f.setLength(2 << 20);
        }
        assertThrows(dev.flint.devices.virtio.block.DiskImageException.class, () -> rig.device.resize(3));
        assertEquals(8192, java.nio.ByteBuffer.wrap(identify(NvmeSpec.CNS_NAMESPACE, 3)).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong(0));
        assertThrows(IllegalArgumentException.class, () -> rig.device.resize(7));
        assertNotEquals(aer, aer2);
    }

    @Test
    void oneIoQueuePairPerVcpuAndInterruptsOnTheirVectors() {
        Completion c = rig.driver.admin.run(Command.of(NvmeSpec.ADMIN_GET_FEATURES).cdw10(NvmeSpec.FEAT_QUEUES));
        assertEquals(0, c.status());
        assertEquals(1 << 16 | 1, c.dw0(), "two I/O queue pairs for two vCPUs (0-based)");
        NvmeTestDriver.Queue second = rig.driver.createIoQueue(2);
        assertEquals(NvmeSpec.SC_INVALID_QUEUE_ID, rig.driver.admin.run(Command.of(NvmeSpec.ADMIN_CREATE_CQ)
                .prp1(0x80000).cdw10(63 << 16 | 3).cdw11(3)).status(), "no third pair");
        assertEquals(0, second.run(rig.rw(NvmeSpec.IO_READ, 1, 0, 8, NvmeRig.DATA)).status());
        assertTrue(rig.irq.msis.stream().anyMatch(m -> m.data() == 0x42), "queue 2 completes on vector 2");
    }

    @Test
    void queueCommandsCheckWhatTheyAreGiven() {
        var admin = rig.driver.admin;
        assertEquals(NvmeSpec.SC_INVALID_CQ, admin.run(Command.of(NvmeSpec.ADMIN_CREATE_SQ).prp1(0x80000)
                .cdw10(63 << 16 | 2).cdw11(2 << 16 | 1)).status());
        assertEquals(NvmeSpec.SC_INVALID_QUEUE_DELETION, admin.run(Command.of(NvmeSpec.ADMIN_DELETE_CQ).cdw10(1)).status());
        assertEquals(NvmeSpec.SC_INVALID_QUEUE_ID, admin.run(Command.of(NvmeSpec.ADMIN_DELETE_SQ).cdw10(0)).status());
        assertEquals(NvmeSpec.SC_INVALID_OPCODE, admin.run(Command.of(0x7F)).status());
        assertEquals(NvmeSpec.SC_INVALID_NAMESPACE, rig.read(7, 0, 8, NvmeRig.DATA).status());
        assertEquals(NvmeSpec.SC_LBA_OUT_OF_RANGE, rig.read(1, DISK / 512 - 4, 8, NvmeRig.DATA).status());
        assertEquals(NvmeSpec.SC_INVALID_FIELD, rig.queue.run(rig.rw(NvmeSpec.IO_READ, 1, 0, 8, NvmeRig.DATA).cdw0Flags(0x40)).status(),
                "SGLs are not offered");
        assertEquals(0, admin.run(Command.of(NvmeSpec.ADMIN_DELETE_SQ).cdw10(1)).status());
        assertEquals(0, admin.run(Command.of(NvmeSpec.ADMIN_DELETE_CQ).cdw10(1)).status());
        rig.queue = rig.driver.createIoQueue(1);
        assertEquals(0, rig.read(1, 0, 8, NvmeRig.DATA).status(), "a queue made again serves");
    }

    @Test
    void shutdownFlushesAndReportsCompletion() {
        rig.driver.setReg(NvmeSpec.REG_CC, 4, rig.driver.reg(NvmeSpec.REG_CC, 4) | 1 << 14);
        NvmeTestDriver.await(() -> ((rig.driver.reg(NvmeSpec.REG_CSTS, 4) >>> 2) & 3) == NvmeSpec.SHST_COMPLETE, "shutdown");
        rig.driver.enable();
        rig.queue = rig.driver.createIoQueue(1);
        assertEquals(0, rig.read(1, 0, 8, NvmeRig.DATA).status(), "serves after a reset");
    }
}
