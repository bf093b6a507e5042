package dev.flint.arch.x86;

import dev.flint.machine.GuestMemory;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/**
 * Boots a Multiboot (version 1) kernel the way QEMU's direct kernel loading does: the header found in the
 * first 8 KiB, the image loaded from its ELF32 program headers or (header flag 16) from the a.out-kludge
 * addresses, a Multiboot information structure with the memory sizes, the e820 map, the command line and
 * the initrd as module 0, and entry in flat 32-bit protected mode with paging off, EAX = 0x2BADB002 and
 * EBX = the structure's address.
 */
final class MultibootLoader {
    static final int HEADER_MAGIC = 0x1BADB002, BOOTLOADER_MAGIC = 0x2BADB002;
    /** The header must lie, 4-byte aligned, within the image's first 8 KiB. */
    static final int SEARCH_BYTES = 8192;
    private static final int FLAG_PAGE_ALIGN = 1, FLAG_MEMORY_INFO = 1 << 1, FLAG_VIDEO_MODE = 1 << 2, FLAG_AOUT_KLUDGE = 1 << 16;
    /** The header's required-feature bits (0-15) Flint honours; any other one set means the kernel needs what Flint lacks. */
    private static final int SUPPORTED_REQUIRED = FLAG_PAGE_ALIGN | FLAG_MEMORY_INFO | FLAG_VIDEO_MODE;
    // Information-structure flags.
    private static final int INFO_MEMORY = 1, INFO_CMDLINE = 1 << 2, INFO_MODS = 1 << 3, INFO_MMAP = 1 << 6,
            INFO_LOADER_NAME = 1 << 9;
    private static final int EM_386 = 3, PT_LOAD = 1, MAX_PHDRS = 256;
    /** Where the structure, its memory map and its strings go: the page the Linux path uses for boot_params. */
    private static final long INFO = Layout.ZERO_PAGE, INFO_SIZE = 88, MODULE_ENTRY = INFO + INFO_SIZE,
            MMAP = MODULE_ENTRY + 16, STRINGS = INFO + 0x800, INFO_END = INFO + 0x1000;
    static final int CODE_SELECTOR = 0x10, DATA_SELECTOR = 0x18, TSS_SELECTOR = 0x20;
    private static final byte[] LOADER_NAME = "Flint\0".getBytes(StandardCharsets.US_ASCII);

    private MultibootLoader() {}

    /** The header's offset in {@code head}, or -1 when there is no Multiboot magic there. */
    static int find(byte[] head) {
        ByteBuffer h = ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN);
        for (int at = 0; at + 12 <= Math.min(head.length, SEARCH_BYTES); at += 4) {
            if (h.getInt(at) == HEADER_MAGIC) return at;
        }
        return -1;
    }

    /** Loads the kernel, the module and the information structure; returns vCPU 0's state. */
    static BootImage load(GuestMemory memory, ImageFile file, byte[] head, int at, BootSpec spec) {
        ByteBuffer h = ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN);
        int flags = h.getInt(at + 4);
        if (h.getInt(at) + flags + h.getInt(at + 8) != 0) {
            throw new BootException("Multiboot header checksum is wrong: " + file.path);
        }
        int unsupported = flags & 0xFFFF & ~SUPPORTED_REQUIRED;
        if (unsupported != 0) {
            throw new BootException(String.format("Multiboot kernel requires features Flint lacks (header flags 0x%x): %s",
                    unsupported, file.path));
        }
        long[] entryAndEnd = (flags & FLAG_AOUT_KLUDGE) != 0 ? loadAout(memory, file, h, at) : loadElf32(memory, file, head);
        long entry = entryAndEnd[0], end = entryAndEnd[1];
        if (entry < Layout.HIMEM || !memory.isRam(entry, 1) || entry >= Layout.MMIO_HOLE) {
            throw new BootException(String.format("Multiboot entry point 0x%x is not in guest RAM: %s", entry, file.path));
        }
        writeInfo(memory, spec, end);
        return new BootImage(protectedModeState(memory, entry), "Multiboot", entry);
    }

    private static long[] loadElf32(GuestMemory memory, ImageFile file, byte[] head) {
        if (!ElfLoader.matches(head) || head.length < 52 || head[4] != 1 || head[5] != 1) {
            throw new BootException("Multiboot kernel is neither ELF32 nor has a.out-kludge addresses (header flag 16): " + file.path);
        }
        ByteBuffer h = ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN);
        int machine = h.getShort(0x12) & 0xFFFF;
        if (machine != EM_386) throw new BootException("Multiboot ELF kernel is not i386 (ELF machine " + machine + "): " + file.path);
        long entry = h.getInt(0x18) & 0xFFFF_FFFFL, phoff = h.getInt(0x1C) & 0xFFFF_FFFFL;
        int phentsize = h.getShort(0x2A) & 0xFFFF, phnum = h.getShort(0x2C) & 0xFFFF;
        if (phnum == 0 || phnum > MAX_PHDRS || phentsize < 32 || phoff > file.size) {
            throw new BootException("Multiboot ELF kernel has a malformed program header table: " + file.path);
        }
        ByteBuffer ph = ByteBuffer.wrap(file.read(phoff, phnum * phentsize)).order(ByteOrder.LITTLE_ENDIAN);
        if (ph.capacity() < phnum * phentsize) throw new BootException("Multiboot ELF kernel is truncated: " + file.path);
        long end = 0;
        int loads = 0;
        for (int i = 0; i < phnum; i++) {
            int p = i * phentsize;
            if (ph.getInt(p) != PT_LOAD) continue;
            long offset = ph.getInt(p + 4) & 0xFFFF_FFFFL, paddr = ph.getInt(p + 12) & 0xFFFF_FFFFL;
            long filesz = ph.getInt(p + 16) & 0xFFFF_FFFFL, memsz = ph.getInt(p + 20) & 0xFFFF_FFFFL;
            place(memory, file, paddr, offset, filesz, memsz);
            end = Math.max(end, paddr + memsz);
            loads++;
        }
        if (loads == 0) throw new BootException("Multiboot ELF kernel has no loadable segments: " + file.path);
        return new long[] {entry, end};
    }

    /** The a.out kludge: the header says where it sits in memory, what to load from the file and where bss ends. */
    private static long[] loadAout(GuestMemory memory, ImageFile file, ByteBuffer h, int at) {
        if (at + 32 > h.capacity()) throw new BootException("Multiboot header is truncated: " + file.path);
        long headerAddr = u32(h, at + 12), loadAddr = u32(h, at + 16), loadEnd = u32(h, at + 20);
        long bssEnd = u32(h, at + 24), entry = u32(h, at + 28);
        long fileOffset = at - (headerAddr - loadAddr);
        if (loadAddr > headerAddr || fileOffset < 0) {
            throw new BootException(String.format("Multiboot load address 0x%x is above the header address 0x%x: %s",
                    loadAddr, headerAddr, file.path));
        }
        long loadSize = loadEnd == 0 ? file.size - fileOffset : loadEnd - loadAddr;
        long memSize = bssEnd == 0 ? loadSize : bssEnd - loadAddr;
        if (loadSize < 0 || memSize < loadSize) {
            throw new BootException("Multiboot a.out-kludge addresses are inconsistent: " + file.path);
        }
        place(memory, file, loadAddr, fileOffset, loadSize, memSize);
        return new long[] {entry, loadAddr + memSize};
    }

    /** Copies {@code filesz} bytes from the file to {@code paddr} and zeroes the rest up to {@code memsz}. */
    private static void place(GuestMemory memory, ImageFile file, long paddr, long offset, long filesz, long memsz) {
        // From 1 MiB up to the MMIO hole: low memory holds Flint's tables and the information structure.
        if (memsz < filesz || paddr < Layout.HIMEM || paddr + memsz > Layout.MMIO_HOLE || !memory.isRam(paddr, memsz)) {
            throw new BootException(String.format("Multiboot segment at 0x%x (0x%x bytes) does not fit in guest RAM of %d MiB: %s",
                    paddr, memsz, memory.size() >> 20, file.path));
        }
        file.copyTo(memory, paddr, offset, filesz);
        memory.slice(paddr + filesz, memsz - filesz).fill((byte) 0);
    }

    private static void writeInfo(GuestMemory memory, BootSpec spec, long kernelEnd) {
        memory.slice(INFO, INFO_END - INFO).fill((byte) 0);
        int flags = INFO_MEMORY | INFO_CMDLINE | INFO_MMAP | INFO_LOADER_NAME;
        byte[] cmdline = spec.cmdline().getBytes(StandardCharsets.UTF_8);
        if (cmdline.length >= Layout.CMDLINE_MAX) {
            throw new BootException("kernel command line is " + cmdline.length + " bytes; at most " + (Layout.CMDLINE_MAX - 1));
        }
        memory.write(Layout.CMDLINE, Arrays.copyOf(cmdline, cmdline.length + 1));
        memory.write(STRINGS, LOADER_NAME);
        if (spec.initrd() != null) {
            flags |= INFO_MODS;
            try (ImageFile initrd = ImageFile.open(spec.initrd(), "initrd")) {
                long start = (kernelEnd + 0xFFF) & ~0xFFFL;
                if (start + initrd.size > memory.lowRamSize()) {
                    throw new BootException(String.format("initrd is %d MiB but only %d MiB of RAM are free after the kernel",
                            (initrd.size + (1 << 20) - 1) >> 20, Math.max(0, memory.lowRamSize() - start) >> 20));
                }
                initrd.copyTo(memory, start, 0, initrd.size);
                // The module's string is the initrd's path as given, as QEMU passes its -initrd argument.
                byte[] name = spec.initrd().toString().getBytes(StandardCharsets.UTF_8);
                long nameAt = STRINGS + LOADER_NAME.length;
                memory.write(nameAt, Arrays.copyOf(name, Math.min(name.length, (int) (INFO_END - nameAt) - 1) + 1));
                memory.writeInt(MODULE_ENTRY, (int) start);
                memory.writeInt(MODULE_ENTRY + 4, (int) (start + initrd.size));
                memory.writeInt(MODULE_ENTRY + 8, (int) nameAt);
            }
            memory.writeInt(INFO + 20, 1);
            memory.writeInt(INFO + 24, (int) MODULE_ENTRY);
        }
        List<E820.Entry> map = E820.of(memory);
        long at = MMAP;
        for (E820.Entry e : map) {
            memory.writeInt(at, 20); // the size field counts the rest of the entry
            memory.writeLong(at + 4, e.addr());
            memory.writeLong(at + 12, e.size());
            memory.writeInt(at + 20, e.type());
            at += 24;
        }
        memory.writeInt(INFO, flags);
        memory.writeInt(INFO + 4, (int) (Layout.EBDA >> 10));                           // mem_lower, KiB below 640 KiB
        memory.writeInt(INFO + 8, (int) ((memory.lowRamSize() - Layout.HIMEM) >> 10));  // mem_upper, KiB from 1 MiB
        memory.writeInt(INFO + 16, (int) Layout.CMDLINE);
        memory.writeInt(INFO + 44, (int) (at - MMAP));
        memory.writeInt(INFO + 48, (int) MMAP);
        memory.writeInt(INFO + 64, (int) STRINGS);
    }

    /** Flat 4 GiB code and data segments (with a GDT describing them), protected mode, paging off, interrupts off. */
    private static CpuBootState protectedModeState(GuestMemory memory, long entry) {
        Segment code = Segment.code32(CODE_SELECTOR);
        Segment data = Segment.data(DATA_SELECTOR);
        Segment tss = Segment.tss(TSS_SELECTOR);
        long[] gdt = {0, 0, code.toGdtEntry(), data.toGdtEntry(), tss.toGdtEntry()};
        for (int i = 0; i < gdt.length; i++) memory.writeLong(Layout.GDT + i * 8L, gdt[i]);
        long cr0 = CpuBootState.CR0_PE | CpuBootState.CR0_ET;
        return new CpuBootState(BOOTLOADER_MAGIC, INFO, 0, 0, 0, 0, Layout.BOOT_STACK_TOP, 0, entry, 0x2,
                code, data, data, data, data, data, tss, Segment.unusable(),
                Layout.GDT, gdt.length * 8 - 1, 0, 0, cr0, 0, 0, 0);
    }

    private static long u32(ByteBuffer h, int at) { return h.getInt(at) & 0xFFFF_FFFFL; }
}
