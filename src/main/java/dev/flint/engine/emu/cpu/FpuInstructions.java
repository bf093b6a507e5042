package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.fpu.FpuHost;
import dev.flint.engine.emu.mmu.Mmu;

/**
 * The x87, MMX and SSE family: decodes the operand (ModRM, immediate, address) of an escape opcode
 * (9B, D8-DF, 0F SIMD, 0F 38, 0F 3A, 0F AE) into an {@link FpuInstruction} and hands it to the
 * {@link FpuUnit}; and is the unit's {@link FpuHost}: its window on the registers, memory and flags.
 */
final class FpuInstructions implements FpuHost {
    private final Decoder dec;
    private final CpuState s;
    private final long[] r;
    private final Flags flags;
    private final Mmu mmu;
    private final FpuUnit fpu;
    private final FpuInstruction insn = new FpuInstruction();

    FpuInstructions(Decoder dec, CpuState s, Mmu mmu, FpuUnit fpu) {
        this.dec = dec;
        this.s = s;
        this.r = s.gpr;
        this.flags = s.flags;
        this.mmu = mmu;
        this.fpu = fpu;
    }

    /** 9B (FWAIT) and D8-DF (x87 escapes). */
    void oneByte(int op) {
        dispatch(FpuInstruction.MAP_ONE, op, op != 0x9B, false);
    }

    /** The two-byte SIMD opcodes, 0F 38 and 0F 3A; anything else in the two-byte map is #UD. */
    void twoByte(int op) {
        switch (op) {
            case 0x38 -> dispatch(FpuInstruction.MAP_0F38, dec.fetch8(), true, false);
            case 0x3A -> dispatch(FpuInstruction.MAP_0F3A, dec.fetch8(), true, true);
            default -> {
                if (isSimd(op)) {
                    boolean imm = op == 0x70 || op == 0x71 || op == 0x72 || op == 0x73 || op == 0xC2
                            || op == 0xC4 || op == 0xC5 || op == 0xC6;
                    dispatch(FpuInstruction.MAP_0F, op, op != 0x77, imm);
                } else {
                    throw dec.undefined(0x0F00 | op);
                }
            }
        }
    }

    private static boolean isSimd(int op) {
        return (op >= 0x10 && op <= 0x17) || (op >= 0x28 && op <= 0x2F) || (op >= 0x50 && op <= 0x7F)
                || (op >= 0xC2 && op <= 0xC6) || op >= 0xD0;
    }

    void dispatch(int map, int opcode, boolean hasModrm, boolean hasImm) {
        FpuInstruction f = insn;
        f.map = map;
        f.opcode = opcode;
        f.mandatoryPrefix = dec.lastPrefix;
        f.operandSize = dec.opSize;
        f.rexW = dec.rexW != 0;
        f.modrm = 0;
        f.memory = false;
        f.reg = 0;
        f.rm = 0;
        f.imm8 = 0;
        if (hasModrm) {
            dec.decodeModrm();
            f.modrm = dec.modrm;
            f.reg = dec.reg;
            f.rm = dec.rm;
            f.memory = dec.memOp;
        }
        if (hasImm) f.imm8 = dec.fetch8();
        if (f.memory) f.address = dec.ea(1, false); // the operand's first byte: x87/SSE widths are decoded later
        fpu.execute(this, f);
    }

    // ============================================================ FpuHost

    @Override public long readGpr(int index) { return r[index]; }

    @Override
    public void writeGpr(int index, long value, int sizeBytes) {
        boolean saved = dec.rex;
        dec.rex = true; // byte writes from the units address the low byte of the register
        dec.setReg(index, sizeBytes, value);
        dec.rex = saved;
    }

    @Override public long readMem(long linear, int size) { return mmu.read(linear, size); }
    @Override public void writeMem(long linear, int size, long value) { mmu.write(linear, size, value); }

    @Override
    public void setCompareFlags(boolean zf, boolean pf, boolean cf) {
        flags.setArith((zf ? Flags.ZF : 0) | (pf ? Flags.PF : 0) | (cf ? Flags.CF : 0));
    }

    @Override public RuntimeException fault(int vector, int errorCode) { return GuestFault.of(vector, errorCode); }
    @Override public long cr0() { return s.cr0; }
    @Override public long cr4() { return s.cr4; }
    @Override public boolean longMode() { return dec.mode64; }
    @Override public long rflags() { return flags.get(); }
}
