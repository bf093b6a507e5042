package dev.flint.guest;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Writes minimal kernel modules: an ELF64 relocatable file whose only content is a .modinfo section. */
final class TestModules {
    private TestModules() {}

    /** A module named {@code name} that depends on {@code depends} (empty: none), as modpost records it. */
    static byte[] module(String name, String... depends) {
        String modinfo = "license=GPL\0depends=" + String.join(",", depends) + "\0intree=Y\0name=" + name + "\0vermagic=9.9.9 SMP\0";
        return elf(modinfo.getBytes(StandardCharsets.UTF_8));
    }

    static void write(Path file, byte[] content) throws IOException {
        Files.createDirectories(file.getParent());
        Files.write(file, content);
    }

    /** Header, then .shstrtab, then .modinfo, then three section headers (null, .shstrtab, .modinfo). */
    static byte[] elf(byte[] modinfo) {
        byte[] names = "\0.shstrtab\0.modinfo\0".getBytes(StandardCharsets.US_ASCII);
        int namesAt = 64;
        int modinfoAt = namesAt + names.length;
        int shoff = (modinfoAt + modinfo.length + 7) & ~7;
        ByteBuffer b = ByteBuffer.allocate(shoff + 3 * 64).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, 0x464C457F).put(4, (byte) 2).put(5, (byte) 1).put(6, (byte) 1);
        b.putShort(0x10, (short) 1).putShort(0x12, (short) 62).putInt(0x14, 1);
        b.putLong(0x28, shoff).putShort(0x34, (short) 64).putShort(0x3A, (short) 64).putShort(0x3C, (short) 3).putShort(0x3E, (short) 1);
        b.put(namesAt, names).put(modinfoAt, modinfo);
        section(b, shoff + 64, 1, 3, namesAt, names.length);
        section(b, shoff + 128, 11, 1, modinfoAt, modinfo.length);
        return b.array();
    }

    private static void section(ByteBuffer b, int at, int name, int type, long offset, long size) {
        b.putInt(at, name).putInt(at + 4, type).putLong(at + 0x18, offset).putLong(at + 0x20, size).putLong(at + 0x30, 1);
    }
}
