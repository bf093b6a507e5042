package dev.flint.engine.emu.diff;

import java.io.ByteArrayOutputStream;

/**
 * A small x86-64 encoder for the instruction forms the generator produces: legacy prefixes, REX,
 * opcode, ModRM/SIB/displacement (including the RSP/R12 SIB and RBP/R13 disp8 special cases and
 * RIP-relative), immediate. Written for this test only; it checks what the generator must not do
 * (REX with AH..BH, RSP as an index).
 */
final class Encoder {
    private Encoder() {}

    /**
     * Encodes an instruction with a ModRM byte.
     *
     * @param address where the instruction will sit (for RIP-relative operands)
     * @param legacy  legacy prefixes in order (F0, 66, F2, F3, 67)
     * @param rexW    REX.W
     * @param opcode  opcode bytes (after REX)
     * @param reg     the ModRM reg field: a register number 0-15 or an opcode extension 0-7
     * @param regOperand the register in the reg field if it is one (for REX/high-byte checks), else null
     * @param rm      the r/m operand
     * @param imm     immediate value, {@code immSize} bytes (0 for none)
     */
    static byte[] modrm(long address, int[] legacy, boolean rexW, int[] opcode, int reg, Operand.Reg regOperand,
                        Operand rm, long imm, int immSize) {
        boolean forceRex = regOperand != null && regOperand.needsRex();
        boolean forbidRex = regOperand != null && regOperand.high();
        int rex = rexW ? 8 : 0;
        rex |= ((regOperand != null ? regOperand.code() : reg) >> 3 & 1) << 2;
        ByteArrayOutputStream tail = new ByteArrayOutputStream();
        int ripDispAt = -1;
        switch (rm) {
            case Operand.Reg r -> {
                forceRex |= r.needsRex();
                forbidRex |= r.high();
                rex |= (r.code() >> 3) & 1;
                tail.write(0xC0 | (reg & 7) << 3 | (r.code() & 7));
            }
            case Operand.Mem m when m.ripRelative() -> {
                tail.write((reg & 7) << 3 | 5);
                ripDispAt = tail.size();
                le(tail, 0, 4);
            }
            case Operand.Mem m -> {
                if (m.index() == CpuState.RSP) {
                    throw new IllegalArgumentException("RSP cannot be an index");
                }
                rex |= ((m.base() >> 3) & 1);
                boolean sib = m.index() >= 0 || (m.base() & 7) == 4;
                int mod;
                if (m.wideDisp() || m.disp() != (byte) m.disp()) {
                    mod = 2;
                } else if (m.disp() != 0 || (m.base() & 7) == 5) {
                    mod = 1;
                } else {
                    mod = 0;
                }
                tail.write(mod << 6 | (reg & 7) << 3 | (sib ? 4 : m.base() & 7));
                if (sib) {
                    int index = m.index() >= 0 ? m.index() : 4;
                    rex |= ((index >> 3) & 1) << 1;
                    int ss = Integer.numberOfTrailingZeros(m.scale());
                    tail.write(ss << 6 | (index & 7) << 3 | (m.base() & 7));
                }
                if (mod == 1) {
                    tail.write((int) m.disp());
                } else if (mod == 2) {
                    le(tail, m.disp(), 4);
                }
            }
        }
        le(tail, imm, immSize);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int p : legacy) {
            out.write(p);
        }
        if (rex != 0 || forceRex) {
            if (forbidRex) {
                throw new IllegalArgumentException("AH/CH/DH/BH cannot be encoded with a REX prefix");
            }
            out.write(0x40 | rex);
        }
        for (int o : opcode) {
            out.write(o);
        }
        int tailStart = out.size();
        out.writeBytes(tail.toByteArray());
        byte[] bytes = out.toByteArray();
        if (ripDispAt >= 0) {
            long disp = ((Operand.Mem) rm).disp() - (address + bytes.length);
            for (int i = 0; i < 4; i++) {
                bytes[tailStart + ripDispAt + i] = (byte) (disp >>> (8 * i));
            }
        }
        return bytes;
    }

    /** Encodes an instruction whose register is in the low opcode bits (PUSH r, MOV r,imm, BSWAP, XCHG rAX). */
    static byte[] opReg(int[] legacy, boolean rexW, int[] opcode, Operand.Reg r, long imm, int immSize) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int p : legacy) {
            out.write(p);
        }
        int rex = (rexW ? 8 : 0) | (r.code() >> 3);
        if (rex != 0 || r.needsRex()) {
            if (r.high()) {
                throw new IllegalArgumentException("AH/CH/DH/BH cannot be encoded with a REX prefix");
            }
            out.write(0x40 | rex);
        }
        for (int i = 0; i < opcode.length - 1; i++) {
            out.write(opcode[i]);
        }
        out.write(opcode[opcode.length - 1] + (r.code() & 7));
        le(out, imm, immSize);
        return out.toByteArray();
    }

    /** Plain bytes: prefixes, opcode, immediate. */
    static byte[] plain(int[] bytes, long imm, int immSize) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int b : bytes) {
            out.write(b);
        }
        le(out, imm, immSize);
        return out.toByteArray();
    }

    private static void le(ByteArrayOutputStream out, long v, int n) {
        for (int i = 0; i < n; i++) {
            out.write((int) (v >>> (8 * i)));
        }
    }
}
