package dev.flint.devices.vhostuser;

import dev.flint.devices.virtio.DescriptorChain;
import dev.flint.devices.virtio.DescriptorChain.Buffer;
import dev.flint.devices.virtio.VirtioDevice;
import dev.flint.devices.virtio.VirtioSpec;
import dev.flint.machine.GuestMemory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

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

    /** One request as the transport serves a batch of one: handle, then finishBatch; returns the bytes written. */
    private static int serve(VhostUserBlockFrontEnd disk, DescriptorChain chain) {
        List<int[]> used = new ArrayList<>();
        int written = disk.handle(0, chain);
        disk.finishBatch(0, (head, n) -> used.add(new int[] {head, n}));
        if (written != VirtioDevice.DEFERRED) {
            assertTrue(used.isEmpty(), "a request answered at once is not returned again");
            return written;
        }
        assertEquals(1, used.size(), "the deferred request comes back once");
        assertEquals(chain.head(), used.getFirst()[0]);
        return used.getFirst()[1];
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

            assertEquals(4097, serve(disk, request(memory, 0, 8, 4096, true)), "status byte plus data");
            assertEquals(0, memory.readByte(STATUS));
            byte[] read = new byte[4096];
            memory.read(DATA, read, 0, read.length);
            assertArrayEquals(Arrays.copyOfRange(Files.readAllBytes(image), 8 * 512, 8 * 512 + 4096), read);

            byte[] mine = new byte[512];
            Arrays.fill(mine, (byte) 0x5A);
            memory.write(DATA, mine);
            assertEquals(1, serve(disk, request(memory, 1, 3, 512, false)));
            assertEquals(0, memory.readByte(STATUS));
            assertEquals(1, serve(disk, request(memory, 4, 0, 0, false)), "flush");
            assertEquals(0, memory.readByte(STATUS));
            assertArrayEquals(mine, Arrays.copyOfRange(Files.readAllBytes(image), 3 * 512, 4 * 512));

            backend.kill();
            assertEquals(1, serve(disk, request(memory, 0, 0, 512, true)));
            assertEquals(1, memory.readByte(STATUS), "a request after the back end died fails with IOERR");
            assertTrue(disk.broken());
            assertEquals(1, serve(disk, request(memory, 0, 0, 512, true)));
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
            assertEquals(1, serve(disk, request(memory, 1, 0, 512, false)));
            assertEquals(1, memory.readByte(STATUS), "the back end refuses a write to a read-only image");
            disk.close(); // the front end's process ends: its socket closes mid-session
            assertEquals("null", backend.awaitEnd());
        }
        assertEquals(before, VhostResources.self(), "the back end closed the front end's memory and eventfds");
    }

    /**
     * A batch as a busy guest sends one: 120 reads of different sectors (360 descriptors, more than the
     * shadow ring's 256, so the front end must let the back end finish some before it can place the rest),
     * then 120 writes. Every chain comes back exactly once with the right bytes, and the data is right.
     */
    @Test
    void aBatchOfManyRequestsIsServedTogetherAndEachComesBackOnce() throws Exception {
        Path image = image();
        byte[] disk0 = Files.readAllBytes(image);
        int n = 120, length = 1024;
        long headers = 0x10000, data = 0x20000, statuses = 0x80000;
        try (BackendHarness backend = new BackendHarness(dir, image, false);
             GuestMemory memory = GuestMemory.allocateShared(16 << 20);
             VhostUserBlockFrontEnd disk = VhostUserBlockFrontEnd.connect(backend.socket, memory, false)) {
            disk.activate(VirtioSpec.F_VERSION_1 | disk.features());
            for (int type : new int[] {0, 1}) {
                Map<Integer, Integer> returned = new HashMap<>();
                for (int i = 0; i < n; i++) {
                    long h = headers + 16L * i, d = data + (long) length * i, st = statuses + i;
                    long sector = 2L * ((i * 37) % n); // distinct sectors in a scrambled order
                    memory.write(h, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(type).putInt(0).putLong(sector).array());
                    if (type == 1) {
                        byte[] mine = new byte[length];
                        Arrays.fill(mine, (byte) i);
                        memory.write(d, mine);
                    }
                    memory.writeByte(st, (byte) 0x55);
                    DescriptorChain chain = new DescriptorChain(i, List.of(new Buffer(h, 16, false),
                            new Buffer(d, length, type == 0), new Buffer(st, 1, true)));
                    assertEquals(VirtioDevice.DEFERRED, disk.handle(0, chain), "request " + i + " waits for the batch's end");
                }
                disk.finishBatch(0, (head, written) -> assertNull(returned.put(head, written), "chain " + head + " returned twice"));
                assertEquals(n, returned.size(), "every chain of the batch came back");
                byte[] now = Files.readAllBytes(image);
                for (int i = 0; i < n; i++) {
                    long sector = 2L * ((i * 37) % n);
                    assertEquals(0, memory.readByte(statuses + i), "status of request " + i);
                    assertEquals(type == 0 ? 1 + length : 1, returned.get(i), "bytes written for request " + i);
                    byte[] got = new byte[length];
                    if (type == 0) {
                        memory.read(data + (long) length * i, got, 0, length);
                        assertArrayEquals(Arrays.copyOfRange(disk0, (int) sector * 512, (int) sector * 512 + length), got, "read " + i);
                    } else {
                        byte[] mine = new byte[length];
                        Arrays.fill(mine, (byte) i);
                        assertArrayEquals(mine, Arrays.copyOfRange(now, (int) sector * 512, (int) sector * 512 + length), "write " + i);
                    }
                }
            }
        }
    }
}
