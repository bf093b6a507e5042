package dev.flint.arch.x86;

import dev.flint.machine.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class BootLoaderTest {
    @TempDir Path dir;
    private GuestMemory memory;

    @AfterEach
    void free() {
        if (memory != null) memory.close();
    }

    private BootImage boot(long memMiB, byte[] kernel, Path initrd, String cmdline) throws Exception {
        memory = GuestMemory.allocate(memMiB << 20);
        Path k = SyntheticKernels.write(dir, "kernel", kernel);
        return BootLoader.load(memory, new BootSpec(k, initrd, cmdline, 2), PlatformInfo.standard());
    }

    private BootException bootFails(long memMiB, byte[] kernel, Path initrd) {
        return assertThrows(BootException.class, () -> boot(memMiB, kernel, initrd, ""));
    }

    @Test
    void bzImageIsLoadedAtPrefAddressAndEnteredAt64BitEntry() throws Exception {
        BootImage img = boot(128, SyntheticKernels.bzImage(0x020F, 0x3), null, "console=ttyS0");
        assertEquals("bzImage", img.format());
        assertEquals(SyntheticKernels.PREF + 0x200, img.entry());
        assertEquals(img.entry(), img.bsp().rip());
        for (int i : new int[] {0, 1, 4095, SyntheticKernels.PAYLOAD - 1}) {
            assertEquals(SyntheticKernels.payloadByte(i), memory.readByte(SyntheticKernels.PREF + i));
        }
        long zp = Layout.ZERO_PAGE;
        assertEquals(0x53726448, memory.readInt(zp + 0x202), "setup header copied");
        assertEquals((short) 0x020F, memory.readShort(zp + 0x206));
        assertEquals((byte) 0xFF, memory.readByte(zp + 0x210), "type_of_loader");
        assertEquals((int) SyntheticKernels.PREF, memory.readInt(zp + 0x214), "code32_start = load address");
        assertEquals("console=ttyS0", cString(memory.readInt(zp + 0x228)));
        assertEquals(0, memory.readInt(zp + 0x0C8), "ext_cmd_line_ptr");
        assertEquals(Layout.ACPI_TABLES, memory.readLong(zp + 0x070), "acpi_rsdp_addr");
        assertEquals(0, memory.readInt(zp + 0x218), "no initrd");
        assertEquals((byte) 0xB0, memory.readByte(Layout.RESET_VECTOR), "reset stub: mov al, ...");
        assertEquals((short) Layout.ACPI_RESET_PORT, memory.readShort(Layout.RESET_VECTOR + 3), "... to the reset port");
    }

    @Test
    void bootStateIsLongModeWithIdentityMapAndFlatSegments() throws Exception {
        CpuBootState s = boot(128, SyntheticKernels.bzImage(0x020C, 0x1), null, "").bsp();
        assertEquals(CpuBootState.CR0_PE | CpuBootState.CR0_PG, s.cr0() & (CpuBootState.CR0_PE | CpuBootState.CR0_PG));
        assertEquals(CpuBootState.CR4_PAE, s.cr4() & CpuBootState.CR4_PAE);
        assertEquals(CpuBootState.EFER_LME | CpuBootState.EFER_LMA, s.efer());
        assertEquals(Layout.ZERO_PAGE, s.rsi());
        assertEquals(0, s.rflags() & 0x200, "interrupts off");
        assertTrue(s.cs().l() && s.cs().present());
        assertEquals(0x10, s.cs().selector());
        assertEquals(0x18, s.ds().selector());
        assertEquals(s.cs().toGdtEntry(), memory.readLong(s.gdtBase() + 0x10), "GDT holds __BOOT_CS");
        assertEquals(s.ds().toGdtEntry(), memory.readLong(s.gdtBase() + 0x18), "GDT holds __BOOT_DS");
        for (long va : new long[] {0, Layout.ZERO_PAGE, 0x100_0200L, 0x7FF_F000L, 0xFEE0_0000L, 0xFFFF_FFFFL}) {
            assertEquals(va, translate(s.cr3(), va), "identity-mapped: 0x" + Long.toHexString(va));
        }
    }

    /** Walks 4-level paging with 2 MiB pages the way the CPU does. */
    private long translate(long cr3, long va) {
        long pml4e = memory.readLong((cr3 & ~0xFFFL) + ((va >>> 39) & 511) * 8);
        assertEquals(1, pml4e & 1);
        long pdpte = memory.readLong((pml4e & 0xF_FFFF_FFFF_F000L) + ((va >>> 30) & 511) * 8);
        assertEquals(1, pdpte & 1);
        long pde = memory.readLong((pdpte & 0xF_FFFF_FFFF_F000L) + ((va >>> 21) & 511) * 8);
        assertEquals(0x81, pde & 0x81, "present 2 MiB page");
        return (pde & 0xF_FFFF_FFE0_0000L) | (va & 0x1F_FFFF);
    }

    @Test
    void initrdGoesAsHighAsRamAllowsPageAligned() throws Exception {
        Path initrd = dir.resolve("initrd");
        byte[] data = new byte[10_000];
        java.util.Arrays.fill(data, (byte) 0x42);
        java.nio.file.Files.write(initrd, data);
        boot(128, SyntheticKernels.bzImage(0x020F, 0x3), initrd, "");
        long addr = memory.readInt(Layout.ZERO_PAGE + 0x218) & 0xFFFF_FFFFL;
        assertEquals(data.length, memory.readInt(Layout.ZERO_PAGE + 0x21C));
        assertEquals(0, addr & 0xFFF, "page-aligned");
        assertTrue(addr + data.length <= 128L << 20 && addr + data.length > (128L << 20) - 4096, "at the top of RAM");
        assertEquals(0x42, memory.readByte(addr + data.length - 1));
    }

    @Test
    void e820DescribesRamAndReservedAreas() throws Exception {
        boot(256, SyntheticKernels.bzImage(0x020F, 0x3), null, "");
        List<E820.Entry> map = new ArrayList<>();
        int n = memory.readByte(Layout.ZERO_PAGE + 0x1E8);
        for (int i = 0; i < n; i++) {
            long at = Layout.ZERO_PAGE + 0x2D0 + i * 20L;
            map.add(new E820.Entry(memory.readLong(at), memory.readLong(at + 8), memory.readInt(at + 16)));
        }
        assertTrue(map.contains(new E820.Entry(0, Layout.EBDA, E820.RAM)));
        assertTrue(map.contains(new E820.Entry(Layout.EBDA, Layout.BIOS_END - Layout.EBDA, E820.RESERVED)),
                "EBDA, ACPI and MP tables reserved");
        assertTrue(map.contains(new E820.Entry(Layout.HIMEM, (256L << 20) - Layout.HIMEM, E820.RAM)));
        assertTrue(map.stream().anyMatch(e -> e.type() == E820.RESERVED && e.addr() <= Layout.IOAPIC
                && e.end() > Layout.LAPIC), "APIC MMIO reserved");
        for (int i = 1; i < map.size(); i++) assertTrue(map.get(i - 1).end() <= map.get(i).addr(), "sorted, disjoint");
        assertTrue(map.stream().noneMatch(e -> e.addr() < Layout.PCI_MMIO32_BASE + Layout.PCI_MMIO32_SIZE
                && e.end() > Layout.PCI_MMIO32_BASE), "PCI window left free for BARs");
    }

    @Test
    void elfSegmentsAreLoadedAtPhysicalAddressesWithBssZeroed() throws Exception {
        memory = GuestMemory.allocate(128L << 20);
        memory.slice(0x120_0000L, 0x4000).fill((byte) 0x77); // stale bytes the bss must clear
        Path k = SyntheticKernels.write(dir, "vmlinux", SyntheticKernels.elf(2, 62));
        BootImage img = BootLoader.load(memory, new BootSpec(k, null, "quiet", 1), PlatformInfo.standard());
        assertEquals("ELF", img.format());
        assertEquals(0x100_0000L, img.entry());
        assertEquals(0x5A, memory.readByte(0x100_0FFFL));
        assertEquals(0x5A, memory.readByte(0x120_07FFL));
        assertEquals(0, memory.readByte(0x120_0800L));
        assertEquals(0, memory.readByte(0x120_3FFFL));
        assertEquals(0x53726448, memory.readInt(Layout.ZERO_PAGE + 0x202));
        assertEquals("quiet", cString(memory.readInt(Layout.ZERO_PAGE + 0x228)));
    }

    @Test
    void unpackOnHostEntersTheCarriedElfButKeepsTheSetupHeader() throws Exception {
        memory = GuestMemory.allocate(128L << 20);
        Path k = SyntheticKernels.write(dir, "bzImage", SyntheticKernels.bzImageCarrying(SyntheticKernels.elf(2, 62)));
        BootImage img = BootLoader.load(memory, new BootSpec(k, null, "", 1), PlatformInfo.standard(),
                BootLoader.BzImageEntry.UNPACK_ON_HOST);
        assertEquals("ELF", img.format());
        assertEquals(0x100_0000L, img.bsp().rip());
        assertEquals(0x5A, memory.readByte(0x100_0000L), "ELF text, not the compressed payload");
        assertEquals(0, memory.readByte(0x120_3FFFL), "bss cleared");
        assertEquals((short) 0x020F, memory.readShort(Layout.ZERO_PAGE + 0x206), "the bzImage's header version");
    }

    @Test
    void kvmEntersTheCachedUnpackedKernelOnlyWhenTheCacheHoldsIt() throws Exception {
        byte[] bzImage = SyntheticKernels.bzImageCarrying(SyntheticKernels.elf(2, 62));
        Path k = SyntheticKernels.write(dir, "bzImage", bzImage);
        BootSpec spec = new BootSpec(k, null, "", 1);
        Path cache = dir.resolve("unpacked");
        UnpackedKernelCache.useDirectory(cache);
        try {
            memory = GuestMemory.allocate(128L << 20);
            BootImage cold = BootLoader.load(memory, spec, PlatformInfo.standard(), BootLoader.BzImageEntry.UNPACKED_IF_CACHED);
            assertEquals("bzImage", cold.format(), "nothing cached: the guest decompresses");
            assertFalse(Files.exists(cache), "and nothing is unpacked for it");
            memory.close();

            UnpackedKernelCache.unpackedFile(bzImage).orElseThrow(); // what an emu boot leaves: not noted for this file
            memory = GuestMemory.allocate(128L << 20);
            assertEquals("bzImage", BootLoader.load(memory, spec, PlatformInfo.standard(), BootLoader.BzImageEntry.UNPACKED_IF_CACHED).format(),
                    "the image is cached but nothing says this file is that bzImage without hashing it");
            memory.close();

            UnpackedKernelCache.unpackAhead(k); // what `flint guest fetch` does
            memory = GuestMemory.allocate(128L << 20);
            BootImage warm = BootLoader.load(memory, spec, PlatformInfo.standard(), BootLoader.BzImageEntry.UNPACKED_IF_CACHED);
            assertEquals("ELF", warm.format());
            assertEquals(0x100_0000L, warm.bsp().rip());
            assertEquals(0x5A, memory.readByte(0x100_0000L), "ELF text, not the compressed payload");
            assertEquals(0, memory.readByte(0x120_3FFFL), "bss cleared");
            assertEquals((short) 0x020F, memory.readShort(Layout.ZERO_PAGE + 0x206), "the bzImage's header version");
            memory.close();

            // Another kernel written over the same path: the note no longer matches the file.
            Files.write(k, SyntheticKernels.bzImage(0x020F, 0x3));
            memory = GuestMemory.allocate(128L << 20);
            assertEquals("bzImage", BootLoader.load(memory, spec, PlatformInfo.standard(), BootLoader.BzImageEntry.UNPACKED_IF_CACHED).format());
        } finally {
            UnpackedKernelCache.useDirectory(null);
        }
    }

    @Test
    void badInputsGiveOneLineMessages() throws Exception {
        Path missing = dir.resolve("nope");
        memory = GuestMemory.allocate(64L << 20);
        assertEquals("kernel not found: " + missing, assertThrows(BootException.class,
                () -> BootLoader.load(memory, new BootSpec(missing, null, "", 1), PlatformInfo.standard())).getMessage());
        memory.close();
        memory = null;

        Path k = dir.resolve("kernel");
        assertEquals("not a kernel Flint can boot (neither bzImage, ELF nor Multiboot): " + k,
                bootFails(128, "#!/bin/sh\necho hi\n".repeat(100).getBytes(StandardCharsets.US_ASCII), null).getMessage());
        memory.close();
        assertEquals("32-bit-only kernel (boot protocol 2.11, no 64-bit entry point): " + k,
                bootFails(128, SyntheticKernels.bzImage(0x020B, 0), null).getMessage());
        memory.close();
        assertEquals("32-bit-only kernel (boot protocol 2.15, no 64-bit entry point): " + k,
                bootFails(128, SyntheticKernels.bzImage(0x020F, 0x2), null).getMessage());
        memory.close();
        assertEquals("32-bit-only kernel (ELF32 image): " + k, bootFails(128, SyntheticKernels.elf(1, 3), null).getMessage());
        memory.close();
        assertEquals("guest memory 32 MiB is too small: at least 64 MiB needed",
                bootFails(32, SyntheticKernels.bzImage(0x020F, 0x3), null).getMessage());
        memory.close();

        Path big = dir.resolve("big-initrd");
        try (RandomAccessFile f = new RandomAccessFile(big.toFile(), "rw")) {
            f.setLength(300L << 20); // sparse: costs no disk
        }
        assertEquals("initrd is 300 MiB but only 256 MiB of RAM (236 MiB free after the kernel)",
                bootFails(256, SyntheticKernels.bzImage(0x020F, 0x3), big).getMessage());
        memory.close();
        memory = GuestMemory.allocate(128L << 20);
        PlatformInfo lowWindow = new PlatformInfo(Layout.PCI_MMIO32_BASE, Layout.PCI_MMIO32_SIZE, 64L << 20, 1L << 30,
                true, true, true, true);
        assertEquals("guest memory 128 MiB overlaps the PCI 64-bit window at 0x4000000", assertThrows(BootException.class,
                () -> BootLoader.load(memory, new BootSpec(k, null, "", 1), lowWindow)).getMessage());
        memory.close();
        Path missingInitrd = dir.resolve("missing-initrd");
        assertEquals("initrd not found: " + missingInitrd,
                bootFails(128, SyntheticKernels.bzImage(0x020F, 0x3), missingInitrd).getMessage());
    }

    private String cString(long addr) {
        StringBuilder sb = new StringBuilder();
        for (byte b; (b = memory.readByte(addr)) != 0; addr++) sb.append((char) b);
        return sb.toString();
    }
}
