package dev.flint.arch.x86;

import dev.flint.machine.GuestMemory;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Loads an uncompressed ELF64 vmlinux: every PT_LOAD segment at its physical address (p_paddr), entry at
 * e_entry, which for vmlinux is the physical address of startup_64.
 */
final class ElfLoader {
    private static final int EM_X86_64 = 62, PT_LOAD = 1, ELFCLASS64 = 2, ELFDATA2LSB = 1;
    private static final int MAX_PHDRS = 256;
    /** x86 COMMAND_LINE_SIZE; an ELF image has no setup header saying otherwise. */
    private static final int CMDLINE_MAX = 2047;

    private ElfLoader() {}

    static boolean matches(byte[] head) {
        return head.length >= 4 && head[0] == 0x7F && head[1] == 'E' && head[2] == 'L' && head[3] == 'F';
    }

    static LoadedKernel load(GuestMemory memory, ImageFile file, byte[] head) {
        if (head.length < 64) throw new BootException("ELF kernel is truncated: " + file.path);
        if (head[4] != ELFCLASS64) throw new BootException("32-bit-only kernel (ELF32 image): " + file.path);
        ByteBuffer h = ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN);
        int machine = h.getShort(0x12) & 0xFFFF;
        if (head[5] != ELFDATA2LSB || machine != EM_X86_64) {
            throw new BootException("not an x86-64 kernel (ELF machine " + machine + "): " + file.path);
        }
        long entry = h.getLong(0x18);
        long phoff = h.getLong(0x20);
        int phentsize = h.getShort(0x36) & 0xFFFF;
        int phnum = h.getShort(0x38) & 0xFFFF;
        if (phnum == 0 || phnum > MAX_PHDRS || phentsize < 56 || phoff < 0 || phoff > file.size) {
            throw new BootException("ELF kernel has a malformed program header table: " + file.path);
        }
        ByteBuffer ph = ByteBuffer.wrap(file.read(phoff, phnum * phentsize)).order(ByteOrder.LITTLE_ENDIAN);
        if (ph.capacity() < phnum * phentsize) throw new BootException("ELF kernel is truncated: " + file.path);
        long end = 0;
        int loads = 0;
        for (int i = 0; i < phnum; i++) {
            int at = i * phentsize;
            if (ph.getInt(at) != PT_LOAD) continue;
            long offset = ph.getLong(at + 0x08), paddr = ph.getLong(at + 0x18);
            long filesz = ph.getLong(at + 0x20), memsz = ph.getLong(at + 0x28);
            // Below the MMIO hole: that is RAM the boot identity map covers and the initrd logic understands.
            if (filesz < 0 || memsz < filesz || paddr < Layout.HIMEM || paddr + memsz > Layout.MMIO_HOLE
                    || !memory.isRam(paddr, memsz)) {
                throw new BootException(String.format(
                        "ELF segment at 0x%x (0x%x bytes) does not fit in guest memory of %d MiB: %s",
                        paddr, memsz, memory.size() >> 20, file.path));
            }
            file.copyTo(memory, paddr, offset, filesz);
            memory.slice(paddr + filesz, memsz - filesz).fill((byte) 0);
            end = Math.max(end, paddr + memsz);
            loads++;
        }
        if (loads == 0) throw new BootException("ELF kernel has no loadable segments: " + file.path);
        if (!memory.isRam(entry, 1) || entry >= Layout.MMIO_HOLE) {
            throw new BootException(String.format("ELF entry point 0x%x is not in guest RAM: %s", entry, file.path));
        }
        return new LoadedKernel("ELF", entry, end, new byte[0], Layout.MMIO_HOLE - 1, CMDLINE_MAX);
    }
}
