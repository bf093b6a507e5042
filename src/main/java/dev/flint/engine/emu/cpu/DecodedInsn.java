package dev.flint.engine.emu.cpu;

/**
 * One instruction as the interpreter decoded it the first time it ran: its prefixes, opcode, ModRM
 * operand (as base + index &lt;&lt; scale + displacement, so only the register values are read again) and
 * its code bytes. Replaying it restores this state and runs the opcode's handler, which then fetches its
 * immediates from the saved bytes instead of guest memory. Nothing here depends on register or memory
 * values, so a replay behaves exactly like a fresh decode of the same bytes in the same CPU mode.
 */
final class DecodedInsn {
    /** Offset in CS of the first byte, and of the byte after the instruction (the fall-through RIP). */
    long rip, endIp;
    /** The first 16 code bytes from {@link #rip}, little-endian (the instruction is at most 15). */
    long window, window2;
    byte length;

    // Prefix state at the opcode.
    byte opSize, adSize, seg, rexW, rexR, rexX, rexB;
    short repPrefix, lastPrefix;
    boolean rex, lock, has66;

    /** The opcode byte (after 0F for two-byte opcodes), and the fetch offset right after it. */
    short opcode;
    boolean twoByte;
    long afterOpcode;

    // The ModRM operand, if the handler decoded one: where it starts, where it ends, what it says.
    boolean hasModrm;
    long modrmIp, afterModrm;
    short modrm;
    byte mod, reg, rm, base, index, scale, eaSeg;
    boolean memOp, ripRel;
    long disp;

    /**
     * A {@link FastPath} form this instruction runs as (0 = none: the opcode's handler runs), with the
     * operands that form needs: registers, the immediate or branch target, ALU operation, size.
     */
    short fast;
    byte fastOp, size, dst, src;
    long imm;
}
