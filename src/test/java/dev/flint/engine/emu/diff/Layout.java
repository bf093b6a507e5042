package dev.flint.engine.emu.diff;

/**
 * Where the differential harness lives in the address space. The native child maps exactly these
 * addresses (MAP_FIXED_NOREPLACE) and the software CPU gets the same guest addresses, so pointers in
 * registers, RIP-relative operands and pushed return data are identical on both sides.
 *
 * <pre>
 * base + 0x0000  code page: native prologue, then the sequence at {@link #sequenceStart()}, then the epilogue
 * base + 0x1000  state page: register blocks the native prologue/epilogue read and write (native only)
 * base + 0x2000  data page: the only memory the sequences address; compared byte for byte
 * base + 0x4000  stack area (16 KiB); RSP starts at {@link #initialRsp()}; a window around it is compared
 * </pre>
 */
public record Layout(long base) {
    public static final int CODE_SIZE = 0x1000;
    public static final int SEQUENCE_OFFSET = 0x200;
    /** Room the sequence may use inside the code page, leaving space for the epilogue. */
    public static final int MAX_SEQUENCE = 0x900;
    public static final int DATA_SIZE = 0x1000;
    public static final int STACK_WINDOW = 0x200;
    /** Total span mapped, from base. */
    public static final long MAP_SIZE = 0x8000;

    public Layout {
        if ((base & 0xFFF) != 0) {
            throw new IllegalArgumentException("base must be page aligned: 0x" + Long.toHexString(base));
        }
    }

    public long code() { return base; }
    public long sequenceStart() { return base + SEQUENCE_OFFSET; }
    public long state() { return base + 0x1000; }
    public long data() { return base + 0x2000; }
    public long stackArea() { return base + 0x4000; }
    /** RSP when the sequence starts: high in the stack area so a signal frame never reaches the data page. */
    public long initialRsp() { return base + 0x7000; }
    /** First byte of the compared stack window (initial RSP minus half the window). */
    public long stackWindow() { return initialRsp() - STACK_WINDOW / 2; }
}
