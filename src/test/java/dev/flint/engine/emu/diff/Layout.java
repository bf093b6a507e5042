package dev.flint.engine.emu.diff;

import dev.flint.engine.emu.EmuTestRig;

/**
 * Where a differential case lives in the address space. The native child maps exactly these addresses
 * (MAP_FIXED_NOREPLACE) and the software CPU's test rig uses the same guest addresses, so pointers in
 * registers, RIP-relative operands and pushed return addresses are identical on both sides.
 *
 * <pre>
 * sequenceStart          the sequence, then (native only) the epilogue that stores the final state
 * sequenceStart + 0x1000 native only: the prologue that loads the initial state and jumps to the sequence
 * sequenceStart + 0x2000 native only: the state page the prologue/epilogue read and write
 * data                   the data page: the only memory the sequences address; compared byte for byte
 * stackTop - 64 KiB ..   stack area; RSP starts just below stackTop (the STACK group uses the data page instead)
 * </pre>
 */
public record Layout(long sequenceStart, long data, long stackTop) {
    public static final int PAGE = 0x1000;
    /** Room for the sequence in its page, leaving space for the native epilogue. */
    public static final int MAX_SEQUENCE = 0xA00;
    public static final int DATA_SIZE = EmuTestRig.DATA_SIZE;
    public static final int STACK_AREA = 0x10000;

    /** The addresses of the emu test rig: code at 1 MiB, data page at 2 MiB, stack below 3 MiB. */
    public static final Layout RIG = new Layout(EmuTestRig.CODE_BASE, EmuTestRig.DATA_BASE, EmuTestRig.STACK_TOP);

    public Layout {
        if (((sequenceStart | data | stackTop) & 0xFFF) != 0) {
            throw new IllegalArgumentException("layout addresses must be page aligned");
        }
    }

    public long prologue() { return sequenceStart + PAGE; }
    public long state() { return sequenceStart + 2 * PAGE; }
    /** RSP for sequences that do not use the stack: deep enough that a signal frame stays in the stack area. */
    public long initialRsp() { return stackTop - 0x100; }
    /** RSP for the PUSH/POP group: the middle of the data page, so every push is compared. */
    public long dataStackRsp() { return data + DATA_SIZE / 2; }
}
