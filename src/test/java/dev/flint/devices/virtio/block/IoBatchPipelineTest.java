package dev.flint.devices.virtio.block;

import dev.flint.sys.Libc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@link IoBatch#start}: reads may stay in flight after it returns, writes never do (a flush after it covers them),
 * and a read left in flight makes the ring's descriptor readable when it completes, for {@link IoBatch#reap}.
 */
class IoBatchPipelineTest {
    private record Done(int tag, boolean ok) { }

    /**
     * Every write of a batch is done when start returns, even where each goes through io_uring to a kernel worker
     * (Policy.URING): so a flush issued right after covers them. Fails if start leaves writes on the ring.
     */
    @Test
    void writesAreDoneWhenStartReturns(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("disk");
        Files.write(file, new byte[1 << 20]);
        try (DiskImage image = DiskImage.open(new DriveConfig(file, false));
             IoBatch batch = new IoBatch(image, file.toString(), true, IoBatch.Policy.URING); Arena arena = Arena.ofConfined()) {
            assumeTrue(batch.usesIoUring(), "io_uring unavailable");
            MemorySegment out = arena.allocate(16 * 4096);
            out.fill((byte) 0x3C);
            List<Done> outcomes = new ArrayList<>();
            for (int round = 0; round < 20; round++) {
                outcomes.clear();
                for (int b = 0; b < 16; b++) batch.add(b, out.asSlice(4096L * b, 4096), 4096L * b * 3 % (1 << 20), true);
                batch.start((tag, ok) -> outcomes.add(new Done(tag, ok)));
                assertEquals(16, outcomes.size(), "every write reported when start returns (round " + round + ")");
                assertTrue(outcomes.stream().allMatch(Done::ok));
                assertEquals(0, batch.inFlight());
            }
        }
    }

    /**
     * A read from a FIFO (data arrives only when the test writes it) stays in flight when start returns; the
     * ring's descriptor polls readable once the data is there, and reap reports the read with the bytes.
     */
    @Test
    void aReadLeftInFlightIsReapedWhenItCompletes(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("disk"), fifo = dir.resolve("fifo");
        Files.write(file, new byte[1 << 20]);
        assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start().waitFor());
        try (DiskImage image = DiskImage.open(new DriveConfig(file, false));
             IoBatch batch = new IoBatch(image, fifo.toString(), true, IoBatch.Policy.CACHE_FIRST); Arena arena = Arena.ofConfined()) {
            assumeTrue(batch.usesIoUring(), "io_uring unavailable");
            MemorySegment in = arena.allocate(4096);
            List<Done> outcomes = new ArrayList<>();
            IoBatch.Outcome sink = (tag, ok) -> outcomes.add(new Done(tag, ok));
            batch.add(1, in, 0, false);
            batch.start(sink);
            assertEquals(List.of(), outcomes, "the read waits for its data");
            assertEquals(1, batch.inFlight());
            assertFalse(readable(batch.completionFd(), 0), "nothing to reap yet");
            batch.reap();
            assertEquals(List.of(), outcomes);

            byte[] data = new byte[4096];
            for (int i = 0; i < data.length; i++) data[i] = (byte) (i * 7 + 1);
            try (FileChannel w = FileChannel.open(fifo, StandardOpenOption.WRITE)) {
                w.write(ByteBuffer.wrap(data));
            }
            assertTrue(readable(batch.completionFd(), 10_000), "the ring polls readable once the read completed");
            batch.reap();
            assertEquals(List.of(new Done(1, true)), outcomes);
            assertArrayEquals(data, in.toArray(JAVA_BYTE));
            assertEquals(0, batch.inFlight());
        }
    }

    private static boolean readable(int fd, int timeoutMillis) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment pfd = a.allocate(Libc.POLLFD_BYTES, 4);
            pfd.set(JAVA_INT, 0, fd);
            pfd.set(JAVA_SHORT, 4, (short) Libc.POLLIN);
            Libc.poll(pfd, 1, timeoutMillis);
            return (pfd.get(JAVA_SHORT, 6) & Libc.POLLIN) != 0;
        }
    }
}
