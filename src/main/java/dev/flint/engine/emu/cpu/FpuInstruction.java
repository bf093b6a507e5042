package dev.flint.engine.emu.cpu;

/**
 * One decoded x87/MMX/SSE instruction, handed to {@link FpuUnit}. A single mutable instance per vCPU is
 * refilled for every instruction so the hot path allocates nothing; units must not keep it.
 */
public final class FpuInstruction {
    /** Opcode maps: one-byte (x87 D8-DF and 9B FWAIT), 0F, 0F 38, 0F 3A. */
    public static final int MAP_ONE = 0, MAP_0F = 1, MAP_0F38 = 2, MAP_0F3A = 3;

    public int map;
    public int opcode;
    /** The last of 66/F2/F3 seen (0 if none): SSE's mandatory prefix. */
    public int mandatoryPrefix;
    /** Operand size in bytes (2, 4 or 8) after 66 and REX.W. */
    public int operandSize;
    public boolean rexW;
    /** The raw ModRM byte (0 if the opcode has none). */
    public int modrm;
    /** ModRM.reg with REX.R (0..15). */
    public int reg;
    /** ModRM.rm with REX.B (0..15) when {@link #memory} is false. */
    public int rm;
    public boolean memory;
    /** Linear address of the memory operand when {@link #memory} is true. */
    public long address;
    /** The trailing imm8 for the opcodes that have one (0F 3A xx, 0F 70-73, C2, C4-C6), else 0. */
    public int imm8;

    @Override
    public String toString() {
        return String.format("map=%d op=%02x pfx=%02x modrm=%02x", map, opcode, mandatoryPrefix, modrm);
    }
}
