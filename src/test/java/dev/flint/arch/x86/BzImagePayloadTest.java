package dev.flint.arch.x86;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.tukaani.xz.LZMA2Options;
import org.tukaani.xz.XZOutputStream;

class BzImagePayloadTest {
    /** A fake vmlinux: just enough to be recognised as ELF, plus a recognisable body. */
    static byte[] fakeElf() {
        byte[] elf = new byte[70_000];
        elf[0] = 0x7F; elf[1] = 'E'; elf[2] = 'L'; elf[3] = 'F';
        for (int i = 4; i < elf.length; i++) elf[i] = (byte) (i * 31);
        return elf;
    }

    static byte[] bzImage(byte[] compressed, int uncompressedSize) {
        int setupSects = 4;
        int pm = (setupSects + 1) * 512;
        int payloadOffset = 0x100;
        byte[] img = new byte[pm + payloadOffset + compressed.length + 4];
        ByteBuffer b = ByteBuffer.wrap(img).order(ByteOrder.LITTLE_ENDIAN);
        img[0x1F1] = (byte) setupSects;
        b.putInt(0x202, 0x53726448);
        b.putShort(0x206, (short) 0x20F);
        b.putInt(0x248, payloadOffset);
        b.putInt(0x24C, compressed.length + 4);
        System.arraycopy(compressed, 0, img, pm + payloadOffset, compressed.length);
        b.putInt(pm + payloadOffset + compressed.length, uncompressedSize);
        return img;
    }

    @Test
    void unpacksAnXzPayloadToTheElfImage() throws Exception {
        byte[] elf = fakeElf();
        var out = new ByteArrayOutputStream();
        try (var xz = new XZOutputStream(out, new LZMA2Options())) { xz.write(elf); }
        byte[] unpacked = BzImagePayload.unpack(bzImage(out.toByteArray(), elf.length)).orElseThrow();
        assertArrayEquals(elf, unpacked);
    }

    @Test
    void unpacksAGzipPayload() throws Exception {
        byte[] elf = fakeElf();
        var out = new ByteArrayOutputStream();
        try (var gz = new GZIPOutputStream(out)) { gz.write(elf); }
        assertArrayEquals(elf, BzImagePayload.unpack(bzImage(out.toByteArray(), elf.length)).orElseThrow());
    }

    @Test
    void anUnknownCompressionIsLeftToTheInGuestDecompressor() throws Exception {
        byte[] zstdLike = {0x28, (byte) 0xB5, 0x2F, (byte) 0xFD, 1, 2, 3, 4};
        assertTrue(BzImagePayload.unpack(bzImage(zstdLike, 100)).isEmpty());
    }

    @Test
    void notABzImageIsEmpty() throws Exception {
        assertTrue(BzImagePayload.unpack(new byte[4096]).isEmpty());
        assertTrue(BzImagePayload.unpack(new byte[10]).isEmpty());
    }

    @Test
    void aCorruptPayloadIsAnError() {
        byte[] garbage = new byte[64];
        garbage[0] = (byte) 0xFD; garbage[1] = '7'; garbage[2] = 'z'; garbage[3] = 'X'; garbage[4] = 'Z';
        assertThrows(java.io.IOException.class, () -> BzImagePayload.unpack(bzImage(garbage, 1000)));
    }

    @Test
    void aPayloadThatIsNotElfIsAnError() throws Exception {
        byte[] notElf = new byte[1000];
        var out = new ByteArrayOutputStream();
        try (var gz = new GZIPOutputStream(out)) { gz.write(notElf); }
        assertThrows(java.io.IOException.class, () -> BzImagePayload.unpack(bzImage(out.toByteArray(), notElf.length)));
    }
}
