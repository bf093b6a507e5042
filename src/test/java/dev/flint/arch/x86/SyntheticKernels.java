package dev.flint.arch.x86;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/** Tiny kernel images with just the structure the boot loader reads, for tests. */
final class SyntheticKernels {
    static final int SETUP_SECTS = 4;
    static final int PAYLOAD = 64 * 1024;
    static final long PREF = 0x100_0000;
    static final long INIT_SIZE = 0x40_0000;

    private SyntheticKernels() {}

    /** A bzImage: 5 setup sectors and a payload whose byte i is (i * 7). */
    static byte[] bzImage(int version, int xloadflags) {
        int setup = (SETUP_SECTS + 1) * 512;
        ByteBuffer b = ByteBuffer.allocate(setup + PAYLOAD).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0x1F1, (byte) SETUP_SECTS);
        b.putShort(0x1FE, (short) 0xAA55);
        b.put(0x200, (byte) 0xEB).put(0x201, (byte) 0x6A);
        b.putInt(0x202, 0x53726448);
        b.putShort(0x206, (short) version);
        b.put(0x211, (byte) 0x01);
        b.putInt(0x22C, 0x7FFF_FFFF);
        b.putInt(0x230, 0x20_0000);
        b.put(0x234, (byte) 1);
        b.putShort(0x236, (short) xloadflags);
        b.putInt(0x238, 2047);
        b.putLong(0x258, PREF);
        b.putInt(0x260, (int) INIT_SIZE);
        for (int i = 0; i < PAYLOAD; i++) b.put(setup + i, payloadByte(i));
        return b.array();
    }

    static byte payloadByte(int i) { return (byte) (i * 7); }

    /** A bzImage whose payload is {@code elf} gzip-compressed, with the size trailer the kernel build appends. */
    static byte[] bzImageCarrying(byte[] elf) throws IOException {
        java.io.ByteArrayOutputStream gz = new java.io.ByteArrayOutputStream();
        try (java.util.zip.GZIPOutputStream out = new java.util.zip.GZIPOutputStream(gz)) {
            out.write(elf);
        }
        byte[] stream = gz.toByteArray();
        byte[] image = bzImage(0x020F, 0x3);
        int setup = (SETUP_SECTS + 1) * 512;
        ByteBuffer b = ByteBuffer.allocate(setup + stream.length + 4).order(ByteOrder.LITTLE_ENDIAN);
        b.put(image, 0, setup).put(stream).putInt(elf.length);
        b.putInt(0x248, 0).putInt(0x24C, stream.length + 4);
        return b.array();
    }

    /** An ELF64 x86-64 image with a text segment at 16 MiB and a data+bss segment at 18 MiB. */
    static byte[] elf(int elfClass, int machine) {
        ByteBuffer b = ByteBuffer.allocate(0x3000).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7F, 'E', 'L', 'F', (byte) elfClass, 1, 1});
        b.putShort(0x10, (short) 2).putShort(0x12, (short) machine).putInt(0x14, 1);
        b.putLong(0x18, 0x100_0000L).putLong(0x20, 0x40).putShort(0x34, (short) 64)
                .putShort(0x36, (short) 56).putShort(0x38, (short) 2);
        phdr(b, 0x40, 0x1000, 0x100_0000L, 0x1000, 0x1000);
        phdr(b, 0x78, 0x2000, 0x120_0000L, 0x800, 0x4000);
        for (int i = 0x1000; i < 0x3000; i++) b.put(i, (byte) 0x5A);
        return b.array();
    }

    private static void phdr(ByteBuffer b, int at, long off, long paddr, long filesz, long memsz) {
        b.putInt(at, 1).putInt(at + 4, 5).putLong(at + 8, off).putLong(at + 0x10, paddr | 0xFFFF_FFFF_8000_0000L)
                .putLong(at + 0x18, paddr).putLong(at + 0x20, filesz).putLong(at + 0x28, memsz);
    }

    static Path write(Path dir, String name, byte[] data) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, data);
        return p;
    }
}
