package dev.flint.engine.emu.mmu;

import dev.flint.engine.emu.irq.CpuInterruptPort;
import dev.flint.machine.DirtyPages;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.bus.Bus;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * One vCPU's view of guest-physical space: RAM through the shared segment, the local APIC page through
 * this CPU's own {@link CpuInterruptPort} (every CPU sees its own APIC at the same address), and
 * everything else through the MMIO bus. Used for page-table walks and for accesses the TLB cannot map
 * straight to RAM.
 */
public final class PhysicalMemory {
    static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final GuestMemory memory;
    private final MemorySegment ram;
    private final Bus mmio;
    private final CpuInterruptPort apic;
    private final CodePages codePages;
    /**
     * The machine's dirty page log when dirty page tracking is on (a Diff snapshot holds what it marks), else
     * null. Fixed at creation: tracking is turned on before the engine is built.
     */
    private final DirtyPages dirty;
    /** Set when one of this vCPU's stores hit a page holding decoded code; the CPU ends its block then. */
    private boolean codeStored;

    public PhysicalMemory(GuestMemory memory, Bus mmio, CpuInterruptPort apic) {
        this.memory = memory;
        this.ram = memory.segment();
        this.mmio = mmio;
        this.apic = apic;
        this.codePages = CodePages.of(memory);
        this.dirty = memory.dirtyPages();
    }

    /** The machine's record of which pages hold decoded code. */
    public CodePages codePages() { return codePages; }

    /** True if a store since the last {@link #clearCodeStored} changed a page holding decoded code. */
    public boolean codeStored() { return codeStored; }

    public void clearCodeStored() { codeStored = false; }

    /**
     * After a store at host offset {@code off}: tells the code tracker (bytes already written) and the
     * dirty page log. Every guest store to RAM comes through here (plain, CAS, and the bulk string paths,
     * which store a byte of their page first).
     */
    void stored(long off) {
        if (dirty != null) dirty.mark(off);
        if (codePages.stored(off)) codeStored = true;
    }

    public MemorySegment ram() { return ram; }

    /** True when every store must mark the dirty page log (a store that bypasses {@link #stored} would be lost). */
    public boolean logsDirtyPages() { return dirty != null; }

    /** Host offset of the 4 KiB page at {@code pagePhys} if it is plain RAM, else -1. */
    public long ramPage(long pagePhys) {
        if (isApic(pagePhys)) return -1;
        return memory.hostOffset(pagePhys, 4096);
    }

    /** Reads 1, 2, 4 or 8 bytes that lie inside one page. */
    public long read(long pa, int size) {
        long page = pa & ~0xFFFL;
        long host = ramPage(page);
        if (host >= 0) return readRam(host + (pa & 0xFFF), size);
        if (isApic(page)) return apic.mmioRead(pa & 0xFFF, size);
        return DeviceAccess.read(mmio, pa, size);
    }

    public void write(long pa, int size, long value) {
        long page = pa & ~0xFFFL;
        long host = ramPage(page);
        if (host >= 0) {
            writeRam(host + (pa & 0xFFF), size, value);
        } else if (isApic(page)) {
            apic.mmioWrite(pa & 0xFFF, size, value);
        } else {
            DeviceAccess.write(mmio, pa, size, value);
        }
    }

    /**
     * Atomically replaces the aligned 8-byte word at {@code pa} (a page-table entry) if it still holds
     * {@code expected}. Outside RAM the write is plain. Used for accessed/dirty bits, so a CPU never
     * resurrects an entry another CPU just changed.
     */
    public boolean compareAndSwapEntry(long pa, long expected, long value) {
        long host = ramPage(pa & ~0xFFFL);
        if (host < 0 || (pa & 7) != 0) {
            write(pa, 8, value);
            return true;
        }
        boolean swapped = (boolean) ENTRY.compareAndSet(ram, host + (pa & 0xFFF), expected, value);
        if (swapped) stored(host + (pa & 0xFFF));
        return swapped;
    }

    private static final java.lang.invoke.VarHandle ENTRY = ValueLayout.JAVA_LONG.varHandle();

    private boolean isApic(long page) {
        return apic != null && (apic.apicBase() & 0xF_FFFF_FFFF_F000L) == page;
    }

    long readRam(long off, int size) {
        return switch (size) {
            case 1 -> ram.get(ValueLayout.JAVA_BYTE, off) & 0xFFL;
            case 2 -> ram.get(SHORT, off) & 0xFFFFL;
            case 4 -> ram.get(INT, off) & 0xFFFF_FFFFL;
            default -> ram.get(LONG, off);
        };
    }

    void writeRam(long off, int size, long v) {
        switch (size) {
            case 1 -> ram.set(ValueLayout.JAVA_BYTE, off, (byte) v);
            case 2 -> ram.set(SHORT, off, (short) v);
            case 4 -> ram.set(INT, off, (int) v);
            default -> ram.set(LONG, off, v);
        }
        stored(off);
    }
}
