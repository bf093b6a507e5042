package dev.flint.arch.x86;

import dev.flint.machine.GuestMemory;

import java.util.List;

/**
 * struct boot_params (the "zero page") as the Linux x86 boot protocol defines it: offsets of the fields
 * a 64-bit boot loader fills in, and the writer. See Documentation/arch/x86/zero-page.rst and boot.rst.
 */
final class ZeroPage {
    static final int SIZE = 4096;

    static final int ACPI_RSDP_ADDR = 0x070;
    static final int EXT_RAMDISK_IMAGE = 0x0C0;
    static final int EXT_RAMDISK_SIZE = 0x0C4;
    static final int EXT_CMD_LINE_PTR = 0x0C8;
    static final int E820_ENTRIES = 0x1E8;
    static final int SENTINEL = 0x1EF;
    static final int E820_TABLE = 0x2D0;

    // The setup header starts at 0x1F1 both in the bzImage file and in boot_params.
    static final int HDR_START = 0x1F1;
    static final int SETUP_SECTS = 0x1F1;
    static final int BOOT_FLAG = 0x1FE;
    static final int JUMP = 0x200;
    static final int HEADER_MAGIC = 0x202;
    static final int VERSION = 0x206;
    static final int TYPE_OF_LOADER = 0x210;
    static final int LOADFLAGS = 0x211;
    static final int CODE32_START = 0x214;
    static final int RAMDISK_IMAGE = 0x218;
    static final int RAMDISK_SIZE = 0x21C;
    static final int HEAP_END_PTR = 0x224;
    static final int CMD_LINE_PTR = 0x228;
    static final int INITRD_ADDR_MAX = 0x22C;
    static final int KERNEL_ALIGNMENT = 0x230;
    static final int RELOCATABLE_KERNEL = 0x234;
    static final int XLOADFLAGS = 0x236;
    static final int CMDLINE_SIZE = 0x238;
    static final int PREF_ADDRESS = 0x258;
    static final int INIT_SIZE = 0x260;

    static final int HDRS = 0x5372_6448; // "HdrS" little-endian
    static final int LOADED_HIGH = 0x01, CAN_USE_HEAP = 0x80;
    static final int XLF_KERNEL_64 = 0x01;
    static final int LOADER_UNDEFINED = 0xFF;

    private ZeroPage() {}

    /**
     * Writes boot_params: {@code header} (the kernel's setup header bytes, placed at 0x1F1, may be
     * empty for an ELF kernel) plus what the loader decides.
     */
    static void write(GuestMemory memory, byte[] header, long cmdlinePtr, long initrdAddr, long initrdSize,
                      long rsdp, List<E820.Entry> e820) {
        byte[] zp = new byte[SIZE];
        System.arraycopy(header, 0, zp, HDR_START, header.length);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(zp).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        // Always present, so the kernel sees a valid header also when booted from an ELF image.
        b.putShort(BOOT_FLAG, (short) 0xAA55);
        b.putInt(HEADER_MAGIC, HDRS);
        zp[TYPE_OF_LOADER] = (byte) LOADER_UNDEFINED;
        zp[LOADFLAGS] |= (byte) (LOADED_HIGH | CAN_USE_HEAP);
        // The setup code never runs; a heap end inside the zero page's segment is what boot.rst suggests.
        b.putShort(HEAP_END_PTR, (short) 0xFE00);
        b.putInt(CMD_LINE_PTR, (int) cmdlinePtr);
        b.putInt(EXT_CMD_LINE_PTR, (int) (cmdlinePtr >>> 32));
        b.putInt(RAMDISK_IMAGE, (int) initrdAddr);
        b.putInt(EXT_RAMDISK_IMAGE, (int) (initrdAddr >>> 32));
        b.putInt(RAMDISK_SIZE, (int) initrdSize);
        b.putInt(EXT_RAMDISK_SIZE, (int) (initrdSize >>> 32));
        b.putLong(ACPI_RSDP_ADDR, rsdp);
        if (e820.size() > E820.MAX_ENTRIES) throw new IllegalStateException("too many e820 entries");
        zp[E820_ENTRIES] = (byte) e820.size();
        for (int i = 0; i < e820.size(); i++) {
            E820.Entry e = e820.get(i);
            int at = E820_TABLE + i * 20;
            b.putLong(at, e.addr());
            b.putLong(at + 8, e.size());
            b.putInt(at + 16, e.type());
        }
        zp[SENTINEL] = 0; // a non-zero sentinel makes Linux wipe fields it thinks a broken loader left behind
        memory.write(Layout.ZERO_PAGE, zp);
    }
}
