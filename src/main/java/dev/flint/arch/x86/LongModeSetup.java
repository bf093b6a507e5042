package dev.flint.arch.x86;

import dev.flint.machine.GuestMemory;

/**
 * The 64-bit state the Linux boot protocol expects at the 64-bit entry: long mode with paging on, an
 * identity map covering the kernel, boot_params and command line, flat __BOOT_CS (0x10) and __BOOT_DS
 * (0x18) segments, interrupts off, RSI pointing at boot_params.
 */
final class LongModeSetup {
    static final int CODE_SELECTOR = 0x10, DATA_SELECTOR = 0x18, TSS_SELECTOR = 0x20;
    /** The identity map covers the first 4 GiB: enough for every address the loader hands over. */
    static final int IDENTITY_MAPPED_GIB = 4;
    private static final long PRESENT = 1, WRITABLE = 2, LARGE = 0x80;

    private LongModeSetup() {}

    /** Writes page tables and GDT into guest memory and returns vCPU 0's state for {@code entry}. */
    static CpuBootState apply(GuestMemory memory, long entry) {
        writePageTables(memory);
        Segment code = Segment.code64(CODE_SELECTOR);
        Segment data = Segment.data(DATA_SELECTOR);
        Segment tss = Segment.tss(TSS_SELECTOR);
        // Null, unused, code, data, then the (16-byte) TSS descriptor whose upper half is zero.
        long[] gdt = {0, 0, code.toGdtEntry(), data.toGdtEntry(), tss.toGdtEntry(), 0};
        for (int i = 0; i < gdt.length; i++) memory.writeLong(Layout.GDT + i * 8L, gdt[i]);
        long cr0 = CpuBootState.CR0_PE | CpuBootState.CR0_ET | CpuBootState.CR0_NE | CpuBootState.CR0_PG;
        return new CpuBootState(0, 0, 0, 0, Layout.ZERO_PAGE, 0, Layout.BOOT_STACK_TOP, 0,
                entry, 0x2,
                code, data, data, data, data, data, tss, Segment.unusable(),
                Layout.GDT, gdt.length * 8 - 1, 0, 0,
                cr0, Layout.PML4, CpuBootState.CR4_PAE, CpuBootState.EFER_LME | CpuBootState.EFER_LMA);
    }

    private static void writePageTables(GuestMemory memory) {
        memory.writeLong(Layout.PML4, Layout.PDPT | PRESENT | WRITABLE);
        for (int gib = 0; gib < IDENTITY_MAPPED_GIB; gib++) {
            long pd = Layout.PD + gib * 4096L;
            memory.writeLong(Layout.PDPT + gib * 8L, pd | PRESENT | WRITABLE);
            for (int i = 0; i < 512; i++) {
                long phys = ((long) gib << 30) | ((long) i << 21);
                memory.writeLong(pd + i * 8L, phys | PRESENT | WRITABLE | LARGE);
            }
        }
    }
}
