package dev.flint.arch.x86.acpi;

import dev.flint.arch.x86.ByteWriter;

/**
 * ACPI resource descriptors (ACPI spec 6.4) for _CRS buffers: {@code Aml.name("_CRS", Resources.template(...))}.
 */
public final class Resources {
    private static final int IO_PORT = 0x47, IRQ_NO_FLAGS = 0x22, END_TAG = 0x79, EXTENDED_IRQ = 0x89;
    /** Extended interrupt flags: the device consumes it (bit 0). Level-triggered, active high, exclusive: all 0. */
    private static final int IRQ_CONSUMER = 1;
    private static final int WORD_ADDRESS = 0x88, DWORD_ADDRESS = 0x87, QWORD_ADDRESS = 0x8A;
    private static final int TYPE_MEMORY = 0, TYPE_IO = 1, TYPE_BUS = 2;
    /** A window the bridge produces, with fixed bounds, positively decoded. */
    private static final int PRODUCER_FIXED = 0x0C;
    private static final int IO_ENTIRE_RANGE = 0x03, MEMORY_RW_UNCACHED = 0x01;

    private Resources() {}

    /** ResourceTemplate(): the descriptors plus the end tag, wrapped in a Buffer. */
    public static byte[] template(byte[]... descriptors) {
        return Aml.buffer(ByteWriter.concat(ByteWriter.concat(descriptors), new byte[] {END_TAG, 0}));
    }

    /** IO(Decode16, base, base, 1, length): a fixed run of ports. */
    public static byte[] io(int base, int length) {
        return new ByteWriter().u8(IO_PORT).u8(1).u16(base).u16(base).u8(1).u8(length).toArray();
    }

    /** IRQNoFlags(){irq}: an ISA interrupt, edge-triggered, active high. */
    public static byte[] irq(int irq) {
        return new ByteWriter().u8(IRQ_NO_FLAGS).u16(1 << irq).toArray();
    }

    /**
     * Interrupt(ResourceConsumer, Level, ActiveHigh, Exclusive) {gsi}: the Extended Interrupt Descriptor (ACPI 6.4,
     * 6.4.3.6) a Generic Event Device names its interrupt with; level-triggered, so a line that stays asserted until
     * the device is served is taken when the OS enables the interrupt, however late.
     */
    public static byte[] levelInterrupt(int gsi) {
        return new ByteWriter().u8(EXTENDED_IRQ).u16(6).u8(IRQ_CONSUMER).u8(1).u32(gsi).toArray();
    }

    /** WordBusNumber producer for buses [min, max]. */
    public static byte[] busNumbers(int min, int max) {
        return word(TYPE_BUS, 0, min, max);
    }

    /** WordIO producer window [min, max]. */
    public static byte[] ioWindow(int min, int max) {
        return word(TYPE_IO, IO_ENTIRE_RANGE, min, max);
    }

    /** DWordMemory producer window (non-prefetchable, read/write). */
    public static byte[] memory32Window(long base, long size) {
        return new ByteWriter().u8(DWORD_ADDRESS).u16(23).u8(TYPE_MEMORY).u8(PRODUCER_FIXED).u8(MEMORY_RW_UNCACHED)
                .u32(0).u32(base).u32(base + size - 1).u32(0).u32(size).toArray();
    }

    /** QWordMemory producer window (non-prefetchable, read/write). */
    public static byte[] memory64Window(long base, long size) {
        return new ByteWriter().u8(QWORD_ADDRESS).u16(43).u8(TYPE_MEMORY).u8(PRODUCER_FIXED).u8(MEMORY_RW_UNCACHED)
                .u64(0).u64(base).u64(base + size - 1).u64(0).u64(size).toArray();
    }

    private static byte[] word(int type, int typeFlags, int min, int max) {
        return new ByteWriter().u8(WORD_ADDRESS).u16(13).u8(type).u8(PRODUCER_FIXED).u8(typeFlags)
                .u16(0).u16(min).u16(max).u16(0).u16(max - min + 1).toArray();
    }
}
