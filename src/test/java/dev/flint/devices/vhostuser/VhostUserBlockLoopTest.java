package dev.flint.devices.vhostuser;

import dev.flint.devices.virtio.DescriptorChain;
import dev.flint.devices.virtio.DescriptorChain.Buffer;
import dev.flint.devices.virtio.VirtioSpec;
import dev.flint.machine.GuestMemory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Flint's vhost-user-blk front end against Flint's back end in one JVM, no guest: requests laid out in
 * shared guest RAM as a driver would go through the shadow ring to the back end and back; a lost back
 * end turns requests into I/O errors; no descriptor leaks either way.
 */
class VhostUserBlockLoopTest {
    private static final long HEADER = 0x1000, DATA = 0x2000, STATUS = 0x3000;

    @TempDir Path dir;

    private Path image() throws IOException {
        byte[] disk = new byte[1 << 20];
        for (int i = 0; i < disk.length; i++) disk[i] = (byte) (i * 7 + i / 512);
        return Files.write(dir.resolve("disk.img"), disk);
    }

    private static DescriptorChain request(GuestMemory m, int type, long sector, int length, boolean dataWritable) {
        ByteBuffer h = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(type).putInt(0).putLong(sector);
        m.write(HEADER, h.array());
        m.writeByte(STATUS, (byte) 0x55);
        return new DescriptorChain(0, List.of(new Buffer(HEADER, 16, false), new Buffer(DATA, length, dataWritable),
                new Buffer(STATUS, 1, true)));
    }

    @Test
    void readsWritesAndFlushesThroughTheBackEndThenFailsCleanlyWhenItDies() throws Exception {
        Path image = image();
        VhostResources before = VhostResources.self();
        try (BackendHarness backend = new BackendHarness(dir, image, false);
             GuestMemory memory = GuestMemory.allocateShared(16 << 20);
             VhostUserBlockFrontEnd disk = VhostUserBlockFrontEnd.connect(backend.socket, memory, false)) {
            assertEquals((1 << 20) / 512, disk.readConfig(0, 8), "capacity from the back end's configuration");
            assertEquals(0, disk.features() & VhostUserBlockFrontEnd.F_RO);
            disk.activate(VirtioSpec.F_VERSION_1 | disk.features());

            assertEquals(4097, disk.handle(0, request(memory, 0, 8, 4096, true)), "status byte plus data");
            assertEquals(0, memory.readByte(STATUS));
            byte[] read = new byte[4096];
            memory.read(DATA, read, 0, read.length);
            assertArrayEquals(Arrays.copyOfRange(Files.readAllBytes(image), 8 * 512, 8 * 512 + 4096), read);

            byte[] mine = new byte[512];
            Arrays.fill(mine, (byte) 0x5A);
            memory.write(DATA, mine);
            assertEquals(1, disk.handle(0, request(memory, 1, 3, 512, false)));
            assertEquals(0, memory.readByte(STATUS));
            assertEquals(1, disk.handle(0, request(memory, 4, 0, 0, false)), "flush");
            assertEquals(0, memory.readByte(STATUS));
            assertArrayEquals(mine, Arrays.copyOfRange(Files.readAllBytes(image), 3 * 512, 4 * 512));

            backend.kill();
            assertEquals(1, disk.handle(0, request(memory, 0, 0, 512, true)));
            assertEquals(1, memory.readByte(STATUS), "a request after the back end died fails with IOERR");
            assertTrue(disk.broken());
            assertEquals(1, disk.handle(0, request(memory, 0, 0, 512, true)));
            assertEquals(1, memory.readByte(STATUS));
            assertTrue(backend.threadEnded());
        }
        assertEquals(before, VhostResources.self(), "every descriptor of both sides is closed");
    }

    @Test
    void theBackEndEndsCleanlyWhenTheFrontEndGoesAway() throws Exception {
        Path image = image();
        VhostResources before = VhostResources.self();
        try (BackendHarness backend = new BackendHarness(dir, image, true);
             GuestMemory memory = GuestMemory.allocateShared(16 << 20)) {
            VhostUserBlockFrontEnd disk = VhostUserBlockFrontEnd.connect(backend.socket, memory, false);
            assertEquals(VhostUserBlockFrontEnd.F_RO, disk.features() & VhostUserBlockFrontEnd.F_RO, "a read-only image is read-only for the guest");
            disk.activate(VirtioSpec.F_VERSION_1 | disk.features());
            memory.write(DATA, new byte[512]);
            assertEquals(1, disk.handle(0, request(memory, 1, 0, 512, false)));
            assertEquals(1, memory.readByte(STATUS), "the back end refuses a write to a read-only image");
            disk.close(); // the front end's process ends: its socket closes mid-session
            assertEquals("null", backend.awaitEnd());
        }
        assertEquals(before, VhostResources.self(), "the back end closed the front end's memory and eventfds");
    }
}
