package dev.flint.devices.vhostuser;

import dev.flint.boot.FlintProcess;
import dev.flint.devices.virtio.DescriptorChain;
import dev.flint.devices.virtio.DescriptorChain.Buffer;
import dev.flint.devices.virtio.VirtioDevice;
import dev.flint.devices.virtio.VirtioSpec;
import dev.flint.machine.GuestMemory;
import dev.flint.testing.Await;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code flint device blk} as a user runs it: it serves one front end after another, a front end that
 * vanishes mid-session (its socket just closes, as when its process is killed) leaves the back end
 * serving and holding no more descriptors than before, and a bad --image is one line with exit status 2.
 */
class DeviceBlkCommandTest {
    private static final Duration WAIT = Duration.ofMinutes(2);

    @TempDir Path dir;

    @Test
    void servesFrontEndsOneAfterAnotherAndOutlivesOneThatVanishes() throws Exception {
        Path image = VhostUserGuest.image(dir);
        Path socket = dir.resolve("blk.sock");
        try (FlintProcess backend = FlintProcess.start("device", "blk", "--socket", socket.toString(), "--image", image.toString());
             GuestMemory memory = GuestMemory.allocateShared(8 << 20)) {
            backend.await("serving " + image + " on " + socket, WAIT);
            long pid = pidServing(socket);

            readFirstSector(socket, memory); // the first front end reads, then its socket closes as if its process died
            backend.await("flint: front end disconnected", WAIT);
            VhostResources held = VhostResources.of(String.valueOf(pid));
            readFirstSector(socket, memory);
            assertTrue(Await.holdsWithin(WAIT, () -> backend.output().split("front end disconnected", -1).length == 3), backend.output());
            assertEquals(held, VhostResources.of(String.valueOf(pid)), "the back end holds no descriptor of a front end that left");
            assertTrue(backend.isAlive());
        }
    }

    /** Connects a front end, reads sector 0, checks it and disconnects without any goodbye. */
    private static void readFirstSector(Path socket, GuestMemory memory) {
        VhostUserBlockFrontEnd disk = VhostUserBlockFrontEnd.connect(socket, memory, false);
        disk.activate(VirtioSpec.F_VERSION_1 | disk.features());
        memory.write(0x1000, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(0).putInt(0).putLong(0).array());
        DescriptorChain read = new DescriptorChain(0, List.of(new Buffer(0x1000, 16, false), new Buffer(0x2000, 512, true),
                new Buffer(0x3000, 1, true)));
        // As Flint's transport serves a batch: the request goes to the back end, finishBatch returns it.
        assertEquals(VirtioDevice.DEFERRED, disk.handle(0, read));
        int[] written = {-1};
        disk.finishBatch(0, (head, n) -> written[0] = n);
        assertEquals(513, written[0]);
        assertEquals(0, memory.readByte(0x3000));
        byte[] sector = new byte[VhostUserGuest.HOST_MARKER.length()];
        memory.read(0x2000, sector, 0, sector.length);
        assertEquals(VhostUserGuest.HOST_MARKER, new String(sector, StandardCharsets.US_ASCII));
        disk.close();
    }

    /** The process whose command line names {@code socket}. */
    private static long pidServing(Path socket) throws IOException {
        try (var procs = Files.list(Path.of("/proc"))) {
            for (Path p : procs.filter(p -> p.getFileName().toString().matches("\\d+")).toList()) {
                try {
                    String cmdline = new String(Files.readAllBytes(p.resolve("cmdline")), StandardCharsets.UTF_8);
                    if (cmdline.contains("device\0blk\0--socket\0" + socket + "\0")) return Long.parseLong(p.getFileName().toString());
                } catch (IOException gone) {
                    // the process ended while we looked
                }
            }
        }
        throw new AssertionError("no process serves " + socket);
    }

    @Test
    void aMissingImageIsOneLineAndStatusTwo() throws Exception {
        try (FlintProcess backend = FlintProcess.start("device", "blk", "--socket", dir.resolve("s.sock").toString(),
                "--image", dir.resolve("missing.img") + ",if=nvme")) {
            assertEquals(2, backend.exitCode(WAIT), backend.output());
            assertTrue(backend.output().contains("flint: --image takes no if= option"), backend.output());
        }
    }
}
