package dev.flint.devices.virtio.block;

import dev.flint.arch.x86.Layout;
import dev.flint.devices.RecordingInterrupts;
import dev.flint.devices.virtio.VirtioSpec;
import dev.flint.devices.virtio.VirtioTestDriver;
import dev.flint.devices.virtio.VirtioTestDriver.Segment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.*;

class VirtioBlockTest {
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    private Path image(long bytes, long seed) throws IOException {
        byte[] data = new byte[(int) bytes];
        new Random(seed).nextBytes(data);
        Path p = dir.resolve("disk-" + seed + ".img");
        Files.write(p, data);
        return p;
    }

    @Test
    void pciIdentityAndCapabilitiesAreWhatVirtioPciExpects() throws IOException {
        try (BlockRig rig = new BlockRig(new DriveConfig(image(MIB, 1), false), 16 * MIB)) {
            assertEquals(0x1AF4, rig.driver.cfgRead(0x00, 2));
            assertEquals(0x1042, rig.driver.cfgRead(0x02, 2));
            assertEquals(1, rig.driver.cfgRead(0x08, 1), "revision 1: modern only");
            assertEquals(0x1AF4, rig.driver.cfgRead(0x2C, 2));
            assertTrue(rig.driver.cfgRead(0x2E, 2) >= 0x40);
            long offered = rig.driver.offeredFeatures();
            assertEquals(VirtioSpec.F_VERSION_1, offered & VirtioSpec.F_VERSION_1);
            assertEquals(VirtioSpec.F_EVENT_IDX, offered & (1L << 29), "EVENT_IDX (VirtqueueEventIdxTest)");
            assertEquals(0, offered & VirtioBlock.F_RO);
            assertEquals(MIB / 512, rig.driver.deviceConfig(0, 8), "capacity in sectors");
            assertEquals(VirtioBlock.SEG_MAX, rig.driver.deviceConfig(12, 4));
            assertEquals(512, rig.driver.deviceConfig(20, 4));
        }
    }

    @Test
    void readsEightMibOfHostDataAndSignalsEachCompletionByMsix() throws IOException {
        Path img = image(16 * MIB, 2);
        try (BlockRig rig = new BlockRig(new DriveConfig(img, false), 32 * MIB).start(true)) {
            for (int i = 0; i < 8; i++) {
                assertEquals(VirtioBlock.S_OK, rig.read(2048 + i * 2048L, BlockRig.DATA + i * MIB, (int) MIB));
                VirtioTestDriver.awaitMsis(rig.irq, 0x41, i + 1); // interrupt-driven: one message per completion
            }
            byte[] guest = new byte[(int) (8 * MIB)];
            rig.memory.read(BlockRig.DATA, guest, 0, guest.length);
            byte[] host = Arrays.copyOfRange(Files.readAllBytes(img), (int) MIB, (int) (9 * MIB));
            assertEquals(crc(host), crc(guest));
            synchronized (rig.irq) {
                assertTrue(rig.irq.msis.stream().allMatch(m -> m.address() == 0xFEE0_0000L), "the programmed address");
            }
        }
    }

    @Test
    void writesReachTheFileAndFlushSucceeds() throws IOException {
        Path img = image(4 * MIB, 3);
        try (BlockRig rig = new BlockRig(new DriveConfig(img, false), 16 * MIB).start(true)) {
            byte[] data = new byte[64 * 1024];
            new Random(99).nextBytes(data);
            rig.memory.write(BlockRig.DATA, data);
            assertEquals(VirtioBlock.S_OK, rig.write(100, BlockRig.DATA, data.length));
            assertEquals(VirtioBlock.S_OK, rig.request(VirtioBlock.T_FLUSH, 0, List.of()));
            assertNotEquals(0, rig.features & VirtioBlock.F_FLUSH);
            // What the metrics report for this drive.
            var counters = rig.device.counters();
            assertEquals(1L, counters.get("write_count"));
            assertEquals((long) data.length, counters.get("write_bytes"));
            assertEquals(1L, counters.get("flush_count"));
            assertEquals("block", rig.device.metricsGroup());
            byte[] file = Files.readAllBytes(img);
            assertArrayEquals(data, Arrays.copyOfRange(file, 100 * 512, 100 * 512 + data.length));
        }
    }

    @Test
    void writeZeroesClearsExactlyTheRange() throws IOException {
        Path img = image(MIB, 11);
        byte[] before = Files.readAllBytes(img);
        try (BlockRig rig = new BlockRig(new DriveConfig(img, false), 16 * MIB).start(true)) {
            assertNotEquals(0, rig.features & VirtioBlock.F_WRITE_ZEROES);
            assertEquals(VirtioBlock.MAX_WRITE_ZEROES_SECTORS, rig.driver.deviceConfig(48, 4));
            assertEquals(1, rig.driver.deviceConfig(52, 4));
            assertEquals(VirtioBlock.S_OK, writeZeroes(rig, 12, 8, 0));
            assertEquals(VirtioBlock.S_UNSUPP, writeZeroes(rig, 0, 1, 2), "reserved flag");
            assertEquals(VirtioBlock.S_IOERR, writeZeroes(rig, 2040, 9, 0), "past the end");
            assertEquals(VirtioBlock.S_IOERR, writeZeroes(rig, 0, VirtioBlock.MAX_WRITE_ZEROES_SECTORS + 1, 0), "over the limit");
        }
        byte[] after = Files.readAllBytes(img);
        Arrays.fill(before, 12 * 512, 20 * 512, (byte) 0);
        assertArrayEquals(before, after);
    }

    private static int writeZeroes(BlockRig rig, long sector, int count, int flags) {
        rig.memory.writeLong(BlockRig.DATA, sector);
        rig.memory.writeInt(BlockRig.DATA + 8, count);
        rig.memory.writeInt(BlockRig.DATA + 12, flags);
        return rig.request(VirtioBlock.T_WRITE_ZEROES, 0, List.of(Segment.in(BlockRig.DATA, 16)));
    }

    @Test
    void readOnlyDiskRefusesWritesAndLeavesTheFileUntouched() throws IOException {
        Path img = image(MIB, 4);
        byte[] before = Files.readAllBytes(img);
        try (BlockRig rig = new BlockRig(new DriveConfig(img, true), 16 * MIB).start(false)) {
            assertNotEquals(0, rig.features & VirtioBlock.F_RO);
            assertEquals(0, rig.features & VirtioBlock.F_WRITE_ZEROES);
            assertEquals(VirtioBlock.S_IOERR, writeZeroes(rig, 0, 8, 0));
            rig.memory.write(BlockRig.DATA, new byte[4096]);
            assertEquals(VirtioBlock.S_IOERR, rig.write(0, BlockRig.DATA, 4096));
            assertEquals(VirtioBlock.S_OK, rig.read(0, BlockRig.DATA, 4096));
        }
        assertArrayEquals(before, Files.readAllBytes(img));
    }

    @Test
    void getIdReturnsTheSerial() throws IOException {
        try (BlockRig rig = new BlockRig(new DriveConfig(image(MIB, 5), false), 16 * MIB).start(true)) {
            assertEquals(VirtioBlock.S_OK, rig.request(VirtioBlock.T_GET_ID, 0, List.of(Segment.out(BlockRig.DATA, 20))));
            byte[] id = new byte[20];
            rig.memory.read(BlockRig.DATA, id, 0, 20);
            assertEquals("disk-5.img", new String(id, StandardCharsets.UTF_8).replace("\0", ""));
        }
    }

    @Test
    void requestsPastTheEndOrOfPartialSectorsOrUnknownTypeFail() throws IOException {
        try (BlockRig rig = new BlockRig(new DriveConfig(image(MIB, 6), false), 16 * MIB).start(true)) {
            assertEquals(VirtioBlock.S_IOERR, rig.read(2047, BlockRig.DATA, 1024), "crosses the end");
            assertEquals(VirtioBlock.S_IOERR, rig.read(-1L, BlockRig.DATA, 512), "sector 2^64-1");
            assertEquals(VirtioBlock.S_IOERR, rig.read(0, BlockRig.DATA, 100), "not whole sectors");
            assertEquals(VirtioBlock.S_UNSUPP, rig.request(11, 0, List.of()), "DISCARD is not offered");
            assertEquals(VirtioBlock.S_OK, rig.read(2047, BlockRig.DATA, 512), "the last sector");
        }
    }

    @Test
    void indirectDescriptorsCarryScatteredRequests() throws IOException {
        Path img = image(MIB, 7);
        try (BlockRig rig = new BlockRig(new DriveConfig(img, false), 16 * MIB).start(true)) {
            assertNotEquals(0, rig.features & VirtioSpec.F_INDIRECT_DESC);
            rig.memory.writeInt(BlockRig.HEADER, VirtioBlock.T_IN);
            rig.memory.writeLong(BlockRig.HEADER + 8, 8);
            var segs = new java.util.ArrayList<Segment>();
            segs.add(Segment.in(BlockRig.HEADER, 16));
            for (int i = 0; i < 16; i++) segs.add(Segment.out(BlockRig.DATA + i * 8192L, 4096)); // gaps between pages
            segs.add(Segment.out(BlockRig.STATUS, 1));
            var q = rig.queue;
            q.publish(q.addIndirect(segs, 0x30000));
            q.kick();
            assertTrue(q.awaitUsed(1, 30_000));
            assertEquals(16 * 4096 + 1, q.usedLength(0));
            assertEquals(VirtioBlock.S_OK, rig.memory.readByte(BlockRig.STATUS));
            byte[] file = Files.readAllBytes(img);
            byte[] page = new byte[4096];
            for (int i = 0; i < 16; i++) {
                rig.memory.read(BlockRig.DATA + i * 8192L, page, 0, 4096);
                assertArrayEquals(Arrays.copyOfRange(file, 4096 + i * 4096, 8192 + i * 4096), page, "page " + i);
            }
        }
    }

    /**
     * The layouts a driver may use besides Linux's (a header, the data, a status byte, each a descriptor of its own):
     * header and data in one descriptor, data and status in one, a header split over two, the data scattered over more
     * direct descriptors than the walk's arrays start with. Each moves exactly its bytes, in order, and reports OK.
     */
    @Test
    void requestsLaidOutAnyWayMoveTheirBytes() throws IOException {
        Path img = image(MIB, 11);
        try (BlockRig rig = new BlockRig(new DriveConfig(img, false), 16 * MIB).start(true)) {
            var q = rig.queue;
            byte[] data = new byte[4096];
            new Random(5).nextBytes(data);

            // A write whose one readable descriptor is the header followed by its data.
            long combined = BlockRig.DATA;
            rig.memory.writeInt(combined, VirtioBlock.T_OUT);
            rig.memory.writeInt(combined + 4, 0);
            rig.memory.writeLong(combined + 8, 16);
            rig.memory.write(combined + 16, data);
            rig.memory.writeByte(BlockRig.STATUS, (byte) 0x7F);
            assertEquals(1, q.submit(List.of(Segment.in(combined, 16 + 4096), Segment.out(BlockRig.STATUS, 1))));
            assertEquals(VirtioBlock.S_OK, rig.memory.readByte(BlockRig.STATUS));
            assertArrayEquals(data, Arrays.copyOfRange(Files.readAllBytes(img), 16 * 512, 16 * 512 + 4096), "header and data in one");

            // A read of those sectors into one writable descriptor of data followed by the status byte.
            rig.memory.writeInt(BlockRig.HEADER, VirtioBlock.T_IN);
            rig.memory.writeLong(BlockRig.HEADER + 8, 16);
            long tail = BlockRig.DATA + MIB;
            rig.memory.writeByte(tail + 4096, (byte) 0x7F);
            assertEquals(4096 + 1, q.submit(List.of(Segment.in(BlockRig.HEADER, 16), Segment.out(tail, 4096 + 1))));
            assertEquals(VirtioBlock.S_OK, rig.memory.readByte(tail + 4096));
            byte[] back = new byte[4096];
            rig.memory.read(tail, back, 0, back.length);
            assertArrayEquals(data, back, "data and status in one");

            // The same read with the header in two halves and the data over twelve direct descriptors, in reverse
            // order of address, 512 bytes at the front and the rest in the eleventh and twelfth.
            rig.memory.writeInt(BlockRig.HEADER + 0x40, VirtioBlock.T_IN);
            rig.memory.writeInt(BlockRig.HEADER + 0x44, 0);
            rig.memory.writeLong(BlockRig.HEADER + 0x80, 16);
            var segments = new java.util.ArrayList<Segment>();
            segments.add(Segment.in(BlockRig.HEADER + 0x40, 8));
            segments.add(Segment.in(BlockRig.HEADER + 0x80, 8));
            long scatter = BlockRig.DATA + 2 * MIB;
            int[] lengths = {512, 512, 512, 512, 0, 512, 0, 512, 0, 512, 256, 256};
            long at = scatter + 12 * 0x1000L;
            long[] addresses = new long[lengths.length];
            for (int i = 0; i < lengths.length; i++) {
                at -= 0x1000;
                addresses[i] = at;
                segments.add(Segment.out(at, lengths[i]));
            }
            segments.add(Segment.out(BlockRig.STATUS, 1));
            rig.memory.writeByte(BlockRig.STATUS, (byte) 0x7F);
            assertEquals(4096 + 1, q.submit(segments));
            assertEquals(VirtioBlock.S_OK, rig.memory.readByte(BlockRig.STATUS));
            int offset = 0;
            for (int i = 0; i < lengths.length; i++) {
                byte[] piece = new byte[lengths[i]];
                rig.memory.read(addresses[i], piece, 0, piece.length);
                assertArrayEquals(Arrays.copyOfRange(data, offset, offset + lengths[i]), piece, "piece " + i);
                offset += lengths[i];
            }
        }
    }

    @Test
    void intxFallbackRaisesTheLineUntilTheIsrIsRead() throws IOException {
        try (BlockRig rig = new BlockRig(new DriveConfig(image(MIB, 8), false), 16 * MIB).start(false)) {
            int gsi = Layout.pciIntxGsi(rig.slot, 1);
            assertEquals(VirtioBlock.S_OK, rig.read(0, BlockRig.DATA, 512));
            awaitLevel(rig.irq, gsi, true);
            assertEquals(1, rig.driver.readIsr());
            assertFalse(rig.irq.level(gsi));
            assertEquals(0, rig.driver.readIsr(), "read to clear");
        }
    }

    @Test
    void driverWithoutVersion1IsRefusedAtFeaturesOk() throws IOException {
        try (BlockRig rig = new BlockRig(new DriveConfig(image(MIB, 9), false), 16 * MIB)) {
            assertThrows(IllegalStateException.class, () -> rig.driver.negotiate(VirtioBlock.F_FLUSH));
            assertEquals(0, rig.driver.status() & VirtioSpec.STATUS_FEATURES_OK);
            rig.driver.negotiate(-1L); // a conforming driver still gets in after a reset
        }
    }

    @Test
    void aSecondWriterGetsOneLineError() throws IOException {
        Path img = image(MIB, 10);
        try (DiskImage first = DiskImage.open(new DriveConfig(img, false))) {
            assertEquals(MIB / 512, first.sectors());
            DiskImageException e = assertThrows(DiskImageException.class, () -> DiskImage.open(new DriveConfig(img, false)));
            assertEquals("disk image is in use by another VM (locked): " + img, e.getMessage());
            assertThrows(DiskImageException.class, () -> DiskImage.open(new DriveConfig(img, true)), "no reader beside a writer");
        }
        try (DiskImage ro = DiskImage.open(new DriveConfig(img, true))) {
            assertTrue(ro.readOnly(), "the lock went with the writer");
        }
        DiskImageException missing = assertThrows(DiskImageException.class, () -> DiskImage.open(new DriveConfig(dir.resolve("nope"), false)));
        assertEquals("disk image not found: " + dir.resolve("nope"), missing.getMessage());
    }

    private static void awaitLevel(RecordingInterrupts irq, int gsi, boolean level) {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (irq.level(gsi) != level) {
            if (System.nanoTime() > deadline) fail("GSI " + gsi + " never went " + level);
            Thread.onSpinWait();
        }
    }

    private static long crc(byte[] b) {
        CRC32 c = new CRC32();
        c.update(b);
        return c.getValue();
    }
}
