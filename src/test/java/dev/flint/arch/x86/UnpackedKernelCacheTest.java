package dev.flint.arch.x86;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UnpackedKernelCacheTest {
    @TempDir Path dir;

    @AfterEach
    void noCache() { UnpackedKernelCache.useDirectory(null); }

    private static byte[] gzipBzImage(byte[] elf) throws Exception {
        var out = new ByteArrayOutputStream();
        try (var gz = new GZIPOutputStream(out)) { gz.write(elf); }
        return BzImagePayloadTest.bzImage(out.toByteArray(), elf.length);
    }

    private List<Path> entries() throws Exception {
        try (var files = Files.list(dir)) {
            return files.toList();
        }
    }

    @Test
    void aSecondBootOfTheSameKernelReadsTheUnpackedImageFromTheCache() throws Exception {
        UnpackedKernelCache.useDirectory(dir);
        byte[] elf = BzImagePayloadTest.fakeElf();
        byte[] image = gzipBzImage(elf);
        assertArrayEquals(elf, UnpackedKernelCache.unpack(image).orElseThrow());
        assertEquals(1, entries().size(), "the first unpack leaves one image and no partial file");

        // Mark the cached copy: the next unpack of the same bzImage must hand back exactly that file.
        Path entry = entries().get(0);
        byte[] marked = elf.clone();
        marked[100] ^= 0x55;
        Files.write(entry, marked);
        assertArrayEquals(marked, UnpackedKernelCache.unpack(image).orElseThrow());
    }

    @Test
    void theUnpackedFileIsStreamedIntoTheCacheAndReusedFromThere() throws Exception {
        UnpackedKernelCache.useDirectory(dir);
        byte[] elf = BzImagePayloadTest.fakeElf();
        byte[] image = gzipBzImage(elf);
        Path file = UnpackedKernelCache.unpackedFile(image).orElseThrow();
        assertArrayEquals(elf, Files.readAllBytes(file));
        assertEquals(List.of(file), entries(), "one image and no partial file");
        assertEquals(file, UnpackedKernelCache.unpackedFile(image).orElseThrow());
        assertArrayEquals(elf, UnpackedKernelCache.unpack(image).orElseThrow(), "the same entry serves both");
    }

    @Test
    void aCorruptPayloadIsAnErrorAndLeavesNoFile() throws Exception {
        UnpackedKernelCache.useDirectory(dir);
        byte[] elf = BzImagePayloadTest.fakeElf();
        var out = new ByteArrayOutputStream();
        try (var gz = new GZIPOutputStream(out)) { gz.write(elf, 0, elf.length / 2); }
        byte[] truncated = BzImagePayloadTest.bzImage(out.toByteArray(), elf.length); // claims more than it holds
        org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class, () -> UnpackedKernelCache.unpackedFile(truncated));
        assertEquals(List.of(), entries());
    }

    @Test
    void withoutADirectoryThereIsNoFile() throws Exception {
        assertEquals(java.util.Optional.empty(), UnpackedKernelCache.unpackedFile(gzipBzImage(BzImagePayloadTest.fakeElf())));
    }

    @Test
    void onlyTheNewestImagesAreKept() throws Exception {
        UnpackedKernelCache.useDirectory(dir);
        for (int i = 0; i < UnpackedKernelCache.KEPT + 2; i++) {
            byte[] elf = BzImagePayloadTest.fakeElf();
            elf[10] = (byte) i; // a different kernel each time
            assertArrayEquals(elf, UnpackedKernelCache.unpack(gzipBzImage(elf)).orElseThrow());
        }
        assertEquals(UnpackedKernelCache.KEPT, entries().size());
    }

    @Test
    void withoutADirectoryNothingIsWritten() throws Exception {
        byte[] elf = BzImagePayloadTest.fakeElf();
        assertArrayEquals(elf, UnpackedKernelCache.unpack(gzipBzImage(elf)).orElseThrow());
        assertEquals(0, entries().size());
    }
}
