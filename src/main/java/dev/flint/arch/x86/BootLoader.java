package dev.flint.arch.x86;

import dev.flint.arch.x86.acpi.AcpiTables;
import dev.flint.machine.GuestMemory;

import java.nio.charset.StandardCharsets;

/**
 * Prepares guest memory to run a Linux kernel from its 64-bit entry point, the way a firmware-less VMM
 * does (Documentation/arch/x86/boot.rst, "64-bit boot protocol"): kernel image, command line, initrd,
 * boot_params with the e820 map, ACPI and MP tables, identity page tables and GDT. Returns the state
 * vCPU 0 starts in; the other vCPUs wait for INIT/SIPI.
 */
public final class BootLoader {
    /** Below this Debian's kernel cannot even decompress itself next to a small initramfs. */
    public static final long MIN_MEMORY = 64L << 20;
    /** The BIOS data area words Linux reads to find the EBDA and the top of base memory (KiB). */
    private static final long BDA_EBDA_SEGMENT = 0x40E, BDA_BASE_MEMORY_KIB = 0x413;

    /**
     * Real-mode code for the reset vector: write the ACPI reset value to the reset register, then halt.
     * There is no BIOS, yet Linux on a hardware-reduced ACPI machine reboots by default through "EFI,
     * then BIOS" (reboot_init), the latter being a jump to F000:FFF0 in real mode. This stub turns that
     * jump into a clean {@code StopReason.Reset} on every engine instead of executing zeros.
     */
    private static final byte[] RESET_STUB = {
            (byte) 0xB0, (byte) Layout.ACPI_RESET_VALUE,                                 // mov al, value
            (byte) 0xBA, (byte) Layout.ACPI_RESET_PORT, (byte) (Layout.ACPI_RESET_PORT >> 8), // mov dx, port
            (byte) 0xEE,                                                                // out dx, al
            (byte) 0xF4,                                                                // hlt
            (byte) 0xEB, (byte) 0xFD};                                                  // jmp back to hlt

    private BootLoader() {}

    /** How a bzImage is entered. An ELF kernel is always entered directly. */
    public enum BzImageEntry {
        /** Through the bzImage's own 64-bit entry: its decompressor runs in the guest (cheap with hardware virtualization). */
        DECOMPRESS_IN_GUEST,
        /**
         * Unpack vmlinux on the host ({@link BzImagePayload}) and enter it as an ELF image, keeping the bzImage's
         * setup header in boot_params; falls back to the in-guest decompressor for payload formats Flint cannot
         * unpack. For the emu engine, where interpreting the decompressor costs billions of instructions.
         */
        UNPACK_ON_HOST,
        /**
         * The vmlinux {@link UnpackedKernelCache} already holds for this bzImage, entered as with {@link #UNPACK_ON_HOST};
         * without one, the bzImage's own entry as with {@link #DECOMPRESS_IN_GUEST}. For hardware virtualization:
         * reading the cached image costs far less than the guest's decompressor (xz over tens of MiB, seconds
         * when KVM itself runs nested under a software CPU), while unpacking on the host first would cost a
         * first boot more than the guest's own run does.
         */
        UNPACKED_IF_CACHED
    }

    /** Loads with {@link BzImageEntry#DECOMPRESS_IN_GUEST}. */
    public static BootImage load(GuestMemory memory, BootSpec spec, PlatformInfo platform) {
        return load(memory, spec, platform, BzImageEntry.DECOMPRESS_IN_GUEST);
    }

    public static BootImage load(GuestMemory memory, BootSpec spec, PlatformInfo platform, BzImageEntry bzImageEntry) {
        if (memory.size() < MIN_MEMORY) {
            throw new BootException(String.format("guest memory %d MiB is too small: at least %d MiB needed",
                    memory.size() >> 20, MIN_MEMORY >> 20));
        }
        long ramEnd = memory.regions().getLast().end();
        if (platform.pciMmio64Size() > 0 && ramEnd > platform.pciMmio64Base()) {
            throw new BootException(String.format("guest memory %d MiB overlaps the PCI 64-bit window at 0x%x",
                    memory.size() >> 20, platform.pciMmio64Base()));
        }
        BootImage multiboot = loadMultiboot(memory, spec);
        if (multiboot != null) {
            writeFirmwareTables(memory, spec, platform);
            return multiboot;
        }
        LoadedKernel kernel = loadKernel(memory, spec, bzImageEntry);

        byte[] cmdline = spec.cmdline().getBytes(StandardCharsets.UTF_8);
        if (cmdline.length > kernel.cmdlineMax()) {
            throw new BootException("kernel command line is " + cmdline.length
                    + " bytes; this kernel accepts at most " + kernel.cmdlineMax());
        }
        memory.write(Layout.CMDLINE, java.util.Arrays.copyOf(cmdline, cmdline.length + 1));

        long initrdAddr = 0, initrdSize = 0;
        if (spec.initrd() != null) {
            try (ImageFile initrd = ImageFile.open(spec.initrd(), "initrd")) {
                initrdSize = initrd.size;
                initrdAddr = placeInitrd(memory, kernel, initrdSize);
                initrd.copyTo(memory, initrdAddr, 0, initrdSize);
            }
        }

        long rsdp = writeFirmwareTables(memory, spec, platform);
        ZeroPage.write(memory, kernel.setupHeader(), Layout.CMDLINE, initrdAddr, initrdSize, rsdp, E820.of(memory));
        CpuBootState bsp = LongModeSetup.apply(memory, kernel.entry());
        return new BootImage(bsp, kernel.format(), kernel.entry());
    }

    /** ACPI and MP tables, the reset stub and the BIOS data area words; returns the RSDP's address. */
    private static long writeFirmwareTables(GuestMemory memory, BootSpec spec, PlatformInfo platform) {
        long rsdp = AcpiTables.write(memory, spec.cpus(), platform);
        MpTable.write(memory, spec.cpus(), platform);
        memory.write(Layout.RESET_VECTOR, RESET_STUB);
        memory.writeShort(BDA_EBDA_SEGMENT, (short) (Layout.EBDA >>> 4));
        memory.writeShort(BDA_BASE_MEMORY_KIB, (short) (Layout.EBDA >>> 10));
        return rsdp;
    }

    /**
     * A Multiboot kernel loaded and entered as its specification says, or null when the image is not one. A
     * bzImage is never taken for one (QEMU checks the Linux header first too), even if its code holds the magic.
     */
    private static BootImage loadMultiboot(GuestMemory memory, BootSpec spec) {
        try (ImageFile file = ImageFile.open(spec.kernel(), "kernel")) {
            byte[] head = file.read(0, MultibootLoader.SEARCH_BYTES);
            if (BzImageLoader.matches(head)) return null;
            int at = MultibootLoader.find(head);
            return at < 0 ? null : MultibootLoader.load(memory, file, head, at, spec);
        }
    }

    private static LoadedKernel loadKernel(GuestMemory memory, BootSpec spec, BzImageEntry bzImageEntry) {
        try (ImageFile file = ImageFile.open(spec.kernel(), "kernel")) {
            byte[] head = file.read(0, 4096);
            if (BzImageLoader.matches(head)) {
                if (bzImageEntry == BzImageEntry.UNPACKED_IF_CACHED) {
                    LoadedKernel unpacked = cachedUnpacked(memory, spec.kernel(), file, head);
                    if (unpacked != null) return unpacked;
                }
                LoadedKernel bz = BzImageLoader.load(memory, file, head); // validates the header either way
                return bzImageEntry == BzImageEntry.UNPACK_ON_HOST ? unpackOnHost(memory, file, bz) : bz;
            }
            if (ElfLoader.matches(head)) return ElfLoader.load(memory, file, head);
            throw new BootException("not a kernel Flint can boot (neither bzImage, ELF nor Multiboot): " + spec.kernel());
        }
    }

    private static LoadedKernel unpackOnHost(GuestMemory memory, ImageFile bzImage, LoadedKernel bz) {
        byte[] image = bzImage.readAll();
        // The cached vmlinux is loaded from its file, so its tens of MiB never sit on the heap (which would
        // set the VMM's heap size); only without a usable cache is it unpacked into memory.
        try {
            java.util.Optional<java.nio.file.Path> cached = UnpackedKernelCache.unpackedFile(image);
            if (cached.isPresent()) {
                try (ImageFile vmlinux = ImageFile.open(cached.get(), "kernel")) {
                    return asBzImage(ElfLoader.load(memory, vmlinux, vmlinux.read(0, 4096)), bz);
                } catch (BootException goneOrBad) {
                    // another Flint evicted it meanwhile, or it is damaged: unpack in memory below
                }
            }
            java.util.Optional<byte[]> elf = UnpackedKernelCache.unpack(image);
            if (elf.isEmpty()) return bz;
            try (ImageFile vmlinux = ImageFile.ofBytes(bzImage.path, "kernel", elf.get())) {
                return asBzImage(ElfLoader.load(memory, vmlinux, vmlinux.read(0, 4096)), bz);
            }
        } catch (java.io.IOException e) {
            throw new BootException("kernel payload is corrupt (" + e.getMessage() + "): " + bzImage.path, e);
        }
    }

    /**
     * The vmlinux the cache holds for the bzImage at {@code path} (see {@link UnpackedKernelCache#cachedFileFor}),
     * loaded with the bzImage's header checked and kept but its payload never read; null when there is none
     * or it cannot be loaded (evicted meanwhile, damaged): the caller then loads the bzImage whole.
     */
    private static LoadedKernel cachedUnpacked(GuestMemory memory, java.nio.file.Path path, ImageFile bzImage, byte[] head) {
        java.util.Optional<java.nio.file.Path> cached = UnpackedKernelCache.cachedFileFor(path);
        if (cached.isEmpty()) return null;
        LoadedKernel bz = BzImageLoader.load(memory, bzImage, head, false);
        try (ImageFile vmlinux = ImageFile.open(cached.get(), "kernel")) {
            return asBzImage(ElfLoader.load(memory, vmlinux, vmlinux.read(0, 4096)), bz);
        } catch (BootException goneOrBad) {
            return null;
        }
    }

    /** The unpacked kernel with the real setup header (version, xloadflags, ...), so the kernel sees what a bzImage boot shows it. */
    private static LoadedKernel asBzImage(LoadedKernel k, LoadedKernel bz) {
        return new LoadedKernel("ELF", k.entry(), Math.max(k.end(), bz.end()), bz.setupHeader(), bz.initrdAddrMax(), bz.cmdlineMax());
    }

    /**
     * As high as the kernel's initrd_addr_max and low RAM allow, page-aligned, never below the memory
     * the kernel claims (its load address + init_size).
     */
    private static long placeInitrd(GuestMemory memory, LoadedKernel kernel, long size) {
        long top = Math.min(kernel.initrdAddrMax() + 1, memory.lowRamSize());
        long addr = (top - size) & ~0xFFFL;
        long floor = (kernel.end() + 0xFFF) & ~0xFFFL;
        if (size > top || addr < floor) {
            throw new BootException(String.format("initrd is %d MiB but only %d MiB of RAM (%d MiB free after the kernel)",
                    (size + (1 << 20) - 1) >> 20, memory.size() >> 20, Math.max(0, top - floor) >> 20));
        }
        return addr;
    }
}
