package dev.flint.devices.virtio.block;

import dev.flint.sys.ErrnoException;
import dev.flint.sys.IoUring;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The ring's registered file (docs/block-path.md, Round 12): with it the batch's reads and writes move the same bytes as
 * without, and where the kernel refuses the registration (a seccomp filter) the batch goes on naming the descriptor per
 * entry.
 */
class IoBatchFixedTest {
    private static final int MIB = 1 << 20;
    private static final IoBatch.Registrar REFUSING = (ring, fd) -> { throw new ErrnoException("io_uring_register", 1); }; // EPERM, as a seccomp filter

    private record Done(int tag, boolean ok) { }

    @Test
    void aRegisteredFileWritesAndReadsTheRightBytes(@TempDir Path dir) throws Exception {
        for (IoBatch.Policy policy : new IoBatch.Policy[] {IoBatch.Policy.URING, IoBatch.Policy.CACHE_FIRST}) {
            Result r = writeThenRead(dir.resolve("fixed-" + policy), policy, IoBatch.Registrar.KERNEL);
            if (r == null) continue; // no io_uring on this host: IoBatchTest covers the blocking calls
            assertTrue(r.fileRegistered, policy + ": the image's descriptor is registered");
            assertTrue(r.fixedFileEntries > 0, policy + ": entries named the registered file");
        }
    }

    @Test
    void aRefusedRegistrationKeepsTheUnregisteredPath(@TempDir Path dir) throws Exception {
        for (IoBatch.Policy policy : new IoBatch.Policy[] {IoBatch.Policy.URING, IoBatch.Policy.CACHE_FIRST}) {
            Result r = writeThenRead(dir.resolve("refused-" + policy), policy, REFUSING);
            if (r == null) continue;
            assertFalse(r.fileRegistered, policy + ": nothing registered");
            assertEquals(0, r.fixedFileEntries, policy + ": no entry names a file the ring does not have");
        }
    }

    private record Result(boolean fileRegistered, long fixedFileEntries) { }

    /**
     * Writes 4 MiB through the batch (1 MiB requests, 4 KiB requests, and one scattered over two buffers that are not
     * neighbours in RAM), checks the file, then reads it back the same ways (large reads in one batch, so half go to
     * io_uring's workers) into other memory and checks every byte; null where io_uring is unavailable.
     */
    private static Result writeThenRead(Path file, IoBatch.Policy policy, IoBatch.Registrar registrar) throws Exception {
        int size = 4 * MIB;
        Files.write(file, new byte[size]);
        try (DiskImage image = DiskImage.open(new DriveConfig(file, false));
             IoBatch batch = new IoBatch(image, file.toString(), true, policy, 64 * 1024, true, registrar);
             Arena arena = Arena.ofConfined()) {
            if (!batch.usesIoUring()) return null;
            MemorySegment ram = arena.allocate(16L * MIB, 4096); // the "guest RAM" both directions use
            MemorySegment out = ram.asSlice(0, size), in = ram.asSlice(8L * MIB, size);
            for (int i = 0; i < size; i++) out.set(JAVA_BYTE, i, (byte) (i * 31 + i / 4096 + policy.ordinal()));
            List<Done> outcomes = new ArrayList<>();
            // File [0, 2 MiB): two 1 MiB writes. [2 MiB, 3 MiB): 256 writes of 4 KiB in reverse order of the buffers.
            // [3 MiB, 4 MiB): one request over two buffers that are not neighbours in RAM (a vectored entry).
            batch.add(1, ram, 0, MIB, 0, true);
            batch.add(2, ram, MIB, MIB, MIB, true);
            batch.submit((tag, ok) -> outcomes.add(new Done(tag, ok)));
            for (int b = 0; b < 256; b++) batch.add(10 + b, ram, 2L * MIB + 4096L * (255 - b), 4096, 2L * MIB + 4096L * b, true);
            batch.submit((tag, ok) -> outcomes.add(new Done(tag, ok)));
            batch.add(3, ram, 3L * MIB + MIB / 2, MIB / 2, 3L * MIB, true);
            batch.add(3, ram, 3L * MIB, MIB / 2, 3L * MIB + MIB / 2, true);
            batch.submit((tag, ok) -> outcomes.add(new Done(tag, ok)));
            assertEquals(256 + 3, outcomes.size(), policy + ": every write reported");
            assertTrue(outcomes.stream().allMatch(Done::ok), policy + ": " + outcomes);
            byte[] expected = new byte[size];
            MemorySegment want = MemorySegment.ofArray(expected);
            want.asSlice(0, 2L * MIB).copyFrom(out.asSlice(0, 2L * MIB));
            for (int b = 0; b < 256; b++) want.asSlice(2L * MIB + 4096L * b, 4096).copyFrom(out.asSlice(2L * MIB + 4096L * (255 - b), 4096));
            want.asSlice(3L * MIB, MIB / 2).copyFrom(out.asSlice(3L * MIB + MIB / 2, MIB / 2));
            want.asSlice(3L * MIB + MIB / 2, MIB / 2).copyFrom(out.asSlice(3L * MIB, MIB / 2));
            assertArrayEquals(expected, Files.readAllBytes(file), policy + ": the file holds what was written, where");

            outcomes.clear();
            for (int b = 0; b < 3; b++) batch.add(100 + b, in, (long) MIB * b, MIB, (long) MIB * b, false); // 1 MiB reads
            for (int b = 0; b < 128; b++) batch.add(200 + b, in, 3L * MIB + 4096L * b, 4096, 3L * MIB + 4096L * b, false);
            batch.add(400, in, 3L * MIB + MIB / 2 + MIB / 4, MIB / 4, 3L * MIB + MIB / 2, false); // scattered: halves swapped
            batch.add(400, in, 3L * MIB + MIB / 2, MIB / 4, 3L * MIB + MIB / 2 + MIB / 4, false);
            batch.submit((tag, ok) -> outcomes.add(new Done(tag, ok)));
            assertEquals(3 + 128 + 1, outcomes.size(), policy + ": every read reported");
            assertTrue(outcomes.stream().allMatch(Done::ok), policy + ": " + outcomes);
            byte[] back = in.toArray(JAVA_BYTE);
            MemorySegment got = MemorySegment.ofArray(back);
            MemorySegment swap = got.asSlice(3L * MIB + MIB / 2, MIB / 2);
            byte[] firstQuarter = swap.asSlice(MIB / 4, MIB / 4).toArray(JAVA_BYTE);
            swap.asSlice(MIB / 4, MIB / 4).copyFrom(swap.asSlice(0, MIB / 4));
            swap.asSlice(0, MIB / 4).copyFrom(MemorySegment.ofArray(firstQuarter));
            assertArrayEquals(expected, back, policy + ": every byte read back is the file's");
            return new Result(batch.fileRegistered(), batch.fixedFileEntries());
        }
    }
}
