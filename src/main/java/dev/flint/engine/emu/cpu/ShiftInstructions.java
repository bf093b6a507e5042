package dev.flint.engine.emu.cpu;

import static dev.flint.engine.emu.cpu.CpuState.*;

/**
 * The shift and rotate family: SHL/SHR/SAR/ROL/ROR/RCL/RCR by 1, CL or an immediate (C0/C1/D0-D3), and
 * the double shifts SHLD/SHRD (0F A4/A5/AC/AD).
 *
 * <p>Runs on the decoder's state of the current instruction ({@link Decoder}): it fetches its own ModRM
 * and immediates from there. {@link Interpreter} dispatches to it; it never calls back up.
 */
final class ShiftInstructions {
    private final Decoder dec;
    private final CpuState s;
    private final long[] r;
    private final Flags flags;

    ShiftInstructions(Decoder dec, CpuState s) {
        this.dec = dec;
        this.s = s;
        this.r = s.gpr;
        this.flags = s.flags;
    }

    void oneByte(int op) {
        switch (op) {
            case 0xC0, 0xC1, 0xD0, 0xD1, 0xD2, 0xD3 -> {
                int z = (op & 1) == 0 ? 1 : dec.opSize;
                dec.decodeModrm();
                int count = op <= 0xC1 ? dec.fetch8() : op <= 0xD1 ? 1 : (int) r[RCX] & 0xFF;
                shiftGroup(dec.reg & 7, z, count);
            }
            default -> throw dec.undefined(op);
        }
    }

    void twoByte(int op) {
        switch (op) {
            case 0xA4, 0xA5, 0xAC, 0xAD -> {
                dec.decodeModrm();
                int count = (op & 1) == 0 ? dec.fetch8() : (int) r[RCX];
                doubleShift(op < 0xAC, count);
            }
            default -> throw dec.undefined(0x0F00 | op);
        }
    }

    void shiftGroup(int op, int z, int rawCount) {
        int count = rawCount & (z == 8 ? 0x3F : 0x1F);
        if (op == 6) op = 4; // SAL is SHL
        if (count == 0) {
            touchOperand(z);
            return;
        }
        int bits = z * 8;
        long m = Alu.mask(z);
        switch (op) {
            case 4 -> rmwShift(Flags.SHL, z, count);
            case 5 -> rmwShift(Flags.SHR, z, count);
            case 7 -> rmwShift(Flags.SAR, z, count);
            default -> {
                long d = dec.readE(z);
                long v;
                boolean cf, of;
                switch (op) {
                    case 0 -> { // ROL
                        int c = count % bits;
                        v = ((d << c) | (d >>> (bits - c))) & m;
                        cf = (v & 1) != 0;
                        of = (((v >>> (bits - 1)) & 1) != 0) ^ cf;
                    }
                    case 1 -> { // ROR
                        int c = count % bits;
                        v = ((d >>> c) | (d << (bits - c))) & m;
                        cf = ((v >>> (bits - 1)) & 1) != 0;
                        of = cf ^ (((v >>> (bits - 2)) & 1) != 0);
                    }
                    case 2 -> { // RCL
                        int c = z < 4 ? count % (bits + 1) : count;
                        v = d;
                        cf = flags.cf();
                        for (int i = 0; i < c; i++) {
                            boolean out = ((v >>> (bits - 1)) & 1) != 0;
                            v = ((v << 1) | (cf ? 1 : 0)) & m;
                            cf = out;
                        }
                        of = (((v >>> (bits - 1)) & 1) != 0) ^ cf;
                        if (c == 0) { dec.writeE(z, v); return; }
                    }
                    default -> { // RCR
                        int c = z < 4 ? count % (bits + 1) : count;
                        v = d;
                        cf = flags.cf();
                        of = (((v >>> (bits - 1)) & 1) != 0) ^ cf;
                        for (int i = 0; i < c; i++) {
                            boolean out = (v & 1) != 0;
                            v = (v >>> 1) | (cf ? 1L << (bits - 1) : 0);
                            cf = out;
                        }
                        if (c == 0) { dec.writeE(z, v); return; }
                    }
                }
                dec.writeE(z, v);
                long f = flags.arith() & ~(Flags.CF | Flags.OF);
                flags.setArith(f | (cf ? Flags.CF : 0) | (of ? Flags.OF : 0));
            }
        }
    }

    /** A shift by zero: nothing moves, but the operand is still read (memory may fault) and a 32-bit
     *  register is still written, which zero-extends it. */
    void touchOperand(int z) {
        long v = dec.readE(z);
        if (!dec.memOp) dec.setReg(dec.rm, z, v);
    }

    void rmwShift(int kind, int z, int count) {
        long d = dec.readE(z);
        long v = switch (kind) {
            case Flags.SHL -> (d << count) & Alu.mask(z);
            case Flags.SHR -> (d >>> count) & Alu.mask(z);
            default -> (Alu.sext(d, z) >> count) & Alu.mask(z);
        };
        dec.writeE(z, v);
        flags.set(kind, z, d, count, v);
    }

    void doubleShift(boolean left, int rawCount) {
        int z = dec.opSize;
        int count = rawCount & (z == 8 ? 0x3F : 0x1F);
        if (count == 0) {
            touchOperand(z);
            return;
        }
        int bits = z * 8;
        long m = Alu.mask(z);
        long d = dec.readE(z);
        long src = dec.getReg(dec.reg, z);
        long v;
        boolean cf;
        if (z == 2 && count > 16) {
            // Undefined on hardware; behave like a 32-bit double shift of src:dst truncated.
            count &= 15;
            if (count == 0) return;
        }
        if (left) {
            v = ((d << count) | (src >>> (bits - count))) & m;
            cf = ((d >>> (bits - count)) & 1) != 0;
        } else {
            v = ((d >>> count) | (src << (bits - count))) & m;
            cf = ((d >>> (count - 1)) & 1) != 0;
        }
        dec.writeE(z, v);
        boolean of = (((d ^ v) >>> (bits - 1)) & 1) != 0;
        long f = (cf ? Flags.CF : 0) | (of ? Flags.OF : 0) | ((v & m) == 0 ? Flags.ZF : 0)
                | (((v >>> (bits - 1)) & 1) != 0 ? Flags.SF : 0) | ((Long.bitCount(v & 0xFF) & 1) == 0 ? Flags.PF : 0);
        flags.setArith(f);
    }
}
