package dev.flint.arch.x86;

import dev.flint.machine.GuestMemory;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Loads a bzImage for the 64-bit boot protocol: checks the setup header, puts the protected-mode part
 * at its preferred address and enters it at load address + 0x200 (startup_64).
 */
final class BzImageLoader {
    /** Boot protocol 2.12 introduced xloadflags, which is where XLF_KERNEL_64 is announced. */
    static final int MIN_VERSION = 0x020C;
    static final int ENTRY_64_OFFSET = 0x200;

    private BzImageLoader() {}

    static boolean matches(byte[] head) {
        return head.length >= 0x240 && le32(head, ZeroPage.HEADER_MAGIC) == ZeroPage.HDRS;
    }

    static LoadedKernel load(GuestMemory memory, ImageFile file, byte[] head) {
        return load(memory, file, head, true);
    }

    /** @param copyPayload false: check the header and place the kernel, but leave its payload out of guest memory */
    static LoadedKernel load(GuestMemory memory, ImageFile file, byte[] head, boolean copyPayload) {
        int version = le16(head, ZeroPage.VERSION);
        int xloadflags = le16(head, ZeroPage.XLOADFLAGS);
        if (version < MIN_VERSION || (xloadflags & ZeroPage.XLF_KERNEL_64) == 0) {
            throw new BootException(String.format(
                    "32-bit-only kernel (boot protocol %d.%02d, no 64-bit entry point): %s",
                    version >> 8, version & 0xFF, file.path));
        }
        if ((head[ZeroPage.LOADFLAGS] & ZeroPage.LOADED_HIGH) == 0) {
            throw new BootException("kernel is a zImage (loads below 1 MiB), not a bzImage: " + file.path);
        }
        int setupSects = head[ZeroPage.SETUP_SECTS] & 0xFF;
        if (setupSects == 0) setupSects = 4; // boot.rst: 0 means 4 for old kernels
        long setupBytes = (setupSects + 1L) * 512;
        long payload = file.size - setupBytes;
        if (payload <= 0) throw new BootException("kernel is truncated (no protected-mode code): " + file.path);

        long alignment = le32(head, ZeroPage.KERNEL_ALIGNMENT) & 0xFFFF_FFFFL;
        long pref = ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN).getLong(ZeroPage.PREF_ADDRESS);
        long initSize = le32(head, ZeroPage.INIT_SIZE) & 0xFFFF_FFFFL;
        long load = pref != 0 ? pref : Layout.HIMEM;
        boolean relocatable = head[ZeroPage.RELOCATABLE_KERNEL] != 0;
        if (relocatable && alignment != 0 && Long.bitCount(alignment) == 1) {
            load = (load + alignment - 1) & -alignment;
        }
        long end = load + Math.max(payload, initSize);
        if (load < Layout.HIMEM || end > memory.lowRamSize()) {
            throw new BootException(String.format(
                    "guest memory %d MiB is too small for this kernel: it needs %d MiB below 3 GiB (load 0x%x + init_size 0x%x)",
                    memory.size() >> 20, (end + (1 << 20) - 1) >> 20, load, initSize));
        }
        if (copyPayload) file.copyTo(memory, load, setupBytes, payload);

        // The header's length is encoded in the jump at 0x200: it ends at 0x202 + that byte.
        int hdrEnd = Math.min(0x202 + (head[ZeroPage.JUMP + 1] & 0xFF), ZeroPage.SIZE);
        byte[] header = java.util.Arrays.copyOfRange(head, ZeroPage.HDR_START, Math.min(hdrEnd, head.length));
        ByteBuffer h = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN);
        h.putInt(ZeroPage.CODE32_START - ZeroPage.HDR_START, (int) load);

        long initrdMax = le32(head, ZeroPage.INITRD_ADDR_MAX) & 0xFFFF_FFFFL;
        int cmdlineMax = le32(head, ZeroPage.CMDLINE_SIZE);
        if (cmdlineMax <= 0 || cmdlineMax >= Layout.CMDLINE_MAX) cmdlineMax = Layout.CMDLINE_MAX - 1;
        return new LoadedKernel("bzImage", load + ENTRY_64_OFFSET, end, header, initrdMax, cmdlineMax);
    }

    static int le16(byte[] b, int at) { return (b[at] & 0xFF) | (b[at + 1] & 0xFF) << 8; }
    static int le32(byte[] b, int at) { return le16(b, at) | le16(b, at + 2) << 16; }
}
