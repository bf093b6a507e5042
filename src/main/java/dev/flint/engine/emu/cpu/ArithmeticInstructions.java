package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.mmu.Mmu;

import static dev.flint.engine.emu.cpu.CpuState.*;

/**
 * The arithmetic and logic family: ADD/OR/ADC/SBB/AND/SUB/XOR/CMP in all their forms, TEST, INC/DEC,
 * NEG/NOT, MUL/IMUL/DIV/IDIV, the BCD adjusts, CBW/CWD and their wider forms, the flag instructions
 * (CLC/STC/CMC/CLD/STD/LAHF/SAHF), and the atomic updates XADD, CMPXCHG, CMPXCHG8B and CMPXCHG16B.
 * Flags are computed by {@link Alu} and {@link Flags}, which the fast forms share.
 *
 * <p>Runs on the decoder's state of the current instruction ({@link Decoder}): it fetches its own ModRM
 * and immediates from there. {@link Interpreter} dispatches to it; it never calls back up.
 */
final class ArithmeticInstructions {
    private final Decoder dec;
    private final CpuState s;
    private final long[] r;
    private final Flags flags;
    private final Mmu mmu;
    /** CMPXCHG16B's observed memory (low, high); a field so the instruction allocates nothing. */
    private final long[] pair = new long[2];
    private final Divide128 divide128 = new Divide128();

    ArithmeticInstructions(Decoder dec, CpuState s, Mmu mmu) {
        this.dec = dec;
        this.s = s;
        this.r = s.gpr;
        this.flags = s.flags;
        this.mmu = mmu;
    }

    /** 00-3F with (op & 7) < 6: the eight ALU operations in their six forms (r/m,r  r,r/m  AL/eAX,imm; byte and full size). */
    void aluForm(int op) {
        int alu = op >> 3;
        switch (op & 7) {
            case 0 -> { dec.decodeModrm(); dec.rmw(Alu.K_ALU, alu, 1, dec.getReg(dec.reg, 1), alu != 7); }
            case 1 -> { dec.decodeModrm(); dec.rmw(Alu.K_ALU, alu, dec.opSize, dec.getReg(dec.reg, dec.opSize), alu != 7); }
            case 2 -> { dec.decodeModrm(); long v = Alu.alu(flags, alu, 1, dec.getReg(dec.reg, 1), dec.readE(1)); if (alu != 7) dec.setReg(dec.reg, 1, v); }
            case 3 -> {
                dec.decodeModrm();
                long v = Alu.alu(flags, alu, dec.opSize, dec.getReg(dec.reg, dec.opSize), dec.readE(dec.opSize));
                if (alu != 7) dec.setReg(dec.reg, dec.opSize, v);
            }
            case 4 -> { long v = Alu.alu(flags, alu, 1, dec.getReg(0, 1), dec.fetch8()); if (alu != 7) dec.setReg(0, 1, v); }
            default -> {
                long imm = Alu.sext(dec.fetchImm(dec.opSize), Math.min(dec.opSize, 4)) & Alu.mask(dec.opSize);
                long v = Alu.alu(flags, alu, dec.opSize, dec.getReg(0, dec.opSize), imm);
                if (alu != 7) dec.setReg(0, dec.opSize, v);
            }
        }
    }

    void oneByte(int op) {
        switch (op) {
            case 0x27, 0x2F, 0x37, 0x3F -> { dec.noLong(); bcdAdjust(op); }
            case 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F -> {
                int n = op & 7;
                long d = dec.getReg(n, dec.opSize);
                long v = Alu.compute(flags, Alu.K_UNARY, op < 0x48 ? 0 : 1, dec.opSize, d, 0);
                dec.setReg(n, dec.opSize, v);
            }
            case 0x69, 0x6B -> {
                dec.decodeModrm();
                long imm = op == 0x6B ? (byte) dec.fetch8() : Alu.sext(dec.fetchImm(Math.min(dec.opSize, 4)), Math.min(dec.opSize, 4));
                dec.setReg(dec.reg, dec.opSize, Alu.imul(flags, dec.opSize, dec.readE(dec.opSize), imm));
            }
            case 0x80, 0x82 -> { dec.decodeModrm(); long imm = dec.fetch8(); dec.rmw(Alu.K_ALU, dec.reg & 7, 1, imm, (dec.reg & 7) != 7); }
            case 0x81 -> {
                dec.decodeModrm();
                long imm = Alu.sext(dec.fetchImm(Math.min(dec.opSize, 4)), Math.min(dec.opSize, 4)) & Alu.mask(dec.opSize);
                dec.rmw(Alu.K_ALU, dec.reg & 7, dec.opSize, imm, (dec.reg & 7) != 7);
            }
            case 0x83 -> {
                dec.decodeModrm();
                long imm = ((byte) dec.fetch8()) & Alu.mask(dec.opSize);
                dec.rmw(Alu.K_ALU, dec.reg & 7, dec.opSize, imm, (dec.reg & 7) != 7);
            }
            case 0x84 -> { dec.decodeModrm(); Alu.alu(flags, 4, 1, dec.readE(1), dec.getReg(dec.reg, 1)); }
            case 0x85 -> { dec.decodeModrm(); Alu.alu(flags, 4, dec.opSize, dec.readE(dec.opSize), dec.getReg(dec.reg, dec.opSize)); }
            case 0x98 -> {
                switch (dec.opSize) {
                    case 2 -> dec.setReg(RAX, 2, (byte) r[RAX]);
                    case 4 -> dec.setReg(RAX, 4, (short) r[RAX]);
                    default -> r[RAX] = (int) r[RAX];
                }
            }
            case 0x99 -> {
                long a = Alu.sext(dec.getReg(RAX, dec.opSize), dec.opSize);
                dec.setReg(RDX, dec.opSize, a < 0 ? -1L : 0);
            }
            case 0x9E -> flags.setArith((flags.arith() & Flags.OF)
                    | ((r[RAX] >>> 8) & (Flags.CF | Flags.PF | Flags.AF | Flags.ZF | Flags.SF)));
            case 0x9F -> r[RAX] = (r[RAX] & ~0xFF00L) | (((flags.get() & 0xD7) | 2) << 8);
            case 0xA8 -> Alu.alu(flags, 4, 1, dec.getReg(RAX, 1), dec.fetch8());
            case 0xA9 -> Alu.alu(flags, 4, dec.opSize, dec.getReg(RAX, dec.opSize), Alu.sext(dec.fetchImm(Math.min(dec.opSize, 4)), Math.min(dec.opSize, 4)) & Alu.mask(dec.opSize));
            case 0xD4 -> { dec.noLong(); int base = dec.fetch8(); if (base == 0) throw GuestFault.of(GuestFault.DE, 0);
                int al = (int) r[RAX] & 0xFF; dec.setReg(RAX, 2, ((al / base) << 8) | (al % base));
                flags.set(Flags.LOGIC, 1, 0, 0, al % base); }
            case 0xD5 -> { dec.noLong(); int base = dec.fetch8(); int v = ((int) (r[RAX] >> 8 & 0xFF) * base + (int) (r[RAX] & 0xFF)) & 0xFF;
                dec.setReg(RAX, 2, v); flags.set(Flags.LOGIC, 1, 0, 0, v); }
            case 0xF5 -> flags.setArith(flags.arith() ^ Flags.CF);
            case 0xF6, 0xF7 -> group3(op == 0xF6 ? 1 : dec.opSize);
            case 0xF8 -> flags.setArith(flags.arith() & ~Flags.CF);
            case 0xF9 -> flags.setArith(flags.arith() | Flags.CF);
            case 0xFC -> flags.system &= ~Flags.DF;
            case 0xFD -> flags.system |= Flags.DF;
            case 0xFE -> {
                dec.decodeModrm();
                if ((dec.reg & 7) > 1) throw dec.ud();
                dec.rmw(Alu.K_UNARY, dec.reg & 7, 1, 0, true);
            }
            default -> throw dec.undefined(op);
        }
    }

    void twoByte(int op) {
        switch (op) {
            case 0xAF -> { dec.decodeModrm(); dec.setReg(dec.reg, dec.opSize, Alu.imul(flags, dec.opSize, dec.getReg(dec.reg, dec.opSize), dec.readE(dec.opSize))); }
            case 0xB0, 0xB1 -> cmpxchg(op == 0xB0 ? 1 : dec.opSize);
            case 0xC0, 0xC1 -> {
                int z = op == 0xC0 ? 1 : dec.opSize;
                dec.decodeModrm();
                long src = dec.getReg(dec.reg, z);
                long old = dec.rmw(Alu.K_XADD, 0, z, src, true);
                // XADD r, r with one register: the source gets the old value first, then the destination
                // (the same register) the sum, so the sum is what stays.
                if (dec.memOp || dec.rm != dec.reg) dec.setReg(dec.reg, z, old);
            }
            case 0xC7 -> group9();
            default -> throw dec.undefined(0x0F00 | op);
        }
    }

    void bcdAdjust(int op) {
        int al = (int) r[RAX] & 0xFF;
        boolean cf = flags.cf(), af = flags.af();
        switch (op) {
            case 0x27, 0x2F -> { // DAA / DAS
                int oldAl = al;
                boolean sub = op == 0x2F;
                boolean newCf = false;
                if ((al & 0xF) > 9 || af) {
                    al = sub ? al - 6 : al + 6;
                    newCf = cf || (sub ? oldAl < 6 : al > 0xFF);
                    af = true;
                } else {
                    af = false;
                }
                if (oldAl > 0x99 || cf) {
                    al = sub ? al - 0x60 : al + 0x60;
                    newCf = true;
                }
                al &= 0xFF;
                dec.setReg(RAX, 1, al);
                long f = (Long.bitCount(al) % 2 == 0 ? Flags.PF : 0) | (al == 0 ? Flags.ZF : 0)
                        | ((al & 0x80) != 0 ? Flags.SF : 0) | (af ? Flags.AF : 0) | (newCf ? Flags.CF : 0);
                flags.setArith(f);
            }
            default -> { // AAA / AAS
                boolean sub = op == 0x3F;
                if ((al & 0xF) > 9 || af) {
                    long ax = r[RAX] & 0xFFFF;
                    ax = sub ? ((ax - 6) & 0xFF) | (((ax >> 8) - 1) & 0xFF) << 8
                            : ((ax + 6) & 0xFF) | (((ax >> 8) + 1) & 0xFF) << 8;
                    dec.setReg(RAX, 2, ax & 0xFF0F);
                    flags.setArith(Flags.AF | Flags.CF);
                } else {
                    dec.setReg(RAX, 1, al & 0xF);
                    flags.setArith(0);
                }
            }
        }
    }

    void group3(int z) {
        dec.decodeModrm();
        int op = dec.reg & 7;
        switch (op) {
            case 0, 1 -> {
                long imm = z == 1 ? dec.fetch8() : Alu.sext(dec.fetchImm(Math.min(z, 4)), Math.min(z, 4)) & Alu.mask(z);
                Alu.alu(flags, 4, z, dec.readE(z), imm);
            }
            case 2, 3 -> dec.rmw(Alu.K_UNARY, op, z, 0, true);
            case 4, 5 -> mulDiv(op, z, dec.readE(z));
            default -> mulDiv(op, z, dec.readE(z));
        }
    }

    void mulDiv(int op, int z, long src) {
        switch (op) {
            case 4 -> { // MUL
                long a = dec.getReg(RAX, z);
                long lo, hi;
                if (z == 8) { lo = a * src; hi = Math.unsignedMultiplyHigh(a, src); }
                else { long p = a * src; lo = p & Alu.mask(z); hi = (p >>> (z * 8)) & Alu.mask(z); }
                storeWide(z, lo, hi);
                Alu.mulFlags(flags, z, lo, hi != 0);
            }
            case 5 -> { // IMUL
                long a = Alu.sext(dec.getReg(RAX, z), z), b = Alu.sext(src, z);
                long lo, hi;
                if (z == 8) { lo = a * b; hi = Math.multiplyHigh(a, b); }
                else { long p = a * b; lo = p & Alu.mask(z); hi = (p >> (z * 8)) & Alu.mask(z); }
                storeWide(z, lo, hi);
                boolean overflow = z == 8 ? hi != (lo >> 63) : Alu.sext(lo, z) != a * b;
                Alu.mulFlags(flags, z, lo, overflow);
            }
            case 6 -> divide(z, src, false);
            default -> divide(z, src, true);
        }
    }

    void storeWide(int z, long lo, long hi) {
        if (z == 1) dec.setReg(RAX, 2, (lo & 0xFF) | ((hi & 0xFF) << 8));
        else { dec.setReg(RAX, z, lo); dec.setReg(RDX, z, hi); }
    }

    void divide(int z, long divisor, boolean signed) {
        divisor &= Alu.mask(z);
        if (divisor == 0) throw GuestFault.of(GuestFault.DE, 0);
        long q, rem;
        if (z == 8) {
            long hi = r[RDX], lo = r[RAX];
            if (!signed && hi == 0) {
                q = Long.divideUnsigned(lo, divisor);
                rem = Long.remainderUnsigned(lo, divisor);
            } else if (signed && hi == (lo >> 63) && !(lo == Long.MIN_VALUE && divisor == -1)) {
                q = lo / divisor;
                rem = lo % divisor;
            } else {
                Divide128 wide = divide128;
                if (!(signed ? wide.signed(hi, lo, divisor) : wide.unsigned(hi, lo, divisor))) {
                    throw GuestFault.of(GuestFault.DE, 0);
                }
                q = wide.quotient;
                rem = wide.remainder;
            }
            r[RAX] = q;
            r[RDX] = rem;
            return;
        }
        long n = z == 1 ? r[RAX] & 0xFFFF : (dec.getReg(RDX, z) << (z * 8)) | dec.getReg(RAX, z);
        if (signed) {
            long sn = Alu.sext(n, z * 2), sd = Alu.sext(divisor, z);
            q = sn / sd;
            rem = sn % sd;
            if (q != Alu.sext(q, z)) throw GuestFault.of(GuestFault.DE, 0);
        } else {
            q = Long.divideUnsigned(n, divisor);
            rem = Long.remainderUnsigned(n, divisor);
            if ((q & ~Alu.mask(z)) != 0) throw GuestFault.of(GuestFault.DE, 0);
        }
        if (z == 1) dec.setReg(RAX, 2, (q & 0xFF) | ((rem & 0xFF) << 8));
        else { dec.setReg(RAX, z, q); dec.setReg(RDX, z, rem); }
    }

    void cmpxchg(int z) {
        dec.decodeModrm();
        if (dec.lock && !dec.memOp) throw dec.ud();
        long acc = dec.getReg(RAX, z);
        long src = dec.getReg(dec.reg, z);
        if (!dec.memOp) {
            long d = dec.getReg(dec.rm, z);
            Alu.alu(flags, 7, z, acc, d);
            if (d == acc) dec.setReg(dec.rm, z, src);
            else dec.setReg(RAX, z, d);
            return;
        }
        long lin = dec.ea(z, true);
        if (mmu.compareAndSwap(lin, z, acc, src)) {
            Alu.alu(flags, 7, z, acc, acc);
        } else {
            long d = mmu.read(lin, z);
            if (d == acc) { // changed back meanwhile: retry as one more attempt
                if (mmu.compareAndSwap(lin, z, acc, src)) { Alu.alu(flags, 7, z, acc, acc); return; }
                d = mmu.read(lin, z);
            }
            Alu.alu(flags, 7, z, acc, d);
            dec.setReg(RAX, z, d);
        }
    }

    void group9() {
        dec.decodeModrm();
        int op = dec.reg & 7;
        if (op != 1 || !dec.memOp) throw dec.undefined(0x0FC7);
        long lin = dec.ea(dec.rexW != 0 ? 16 : 8, true);
        if (dec.rexW != 0) { // CMPXCHG16B
            if ((lin & 15) != 0) throw GuestFault.gp(0);
            if (mmu.compareAndSwap16(lin, r[RAX], r[RDX], r[RBX], r[RCX], pair)) {
                flags.setArith(flags.arith() | Flags.ZF);
            } else {
                r[RAX] = pair[0];
                r[RDX] = pair[1];
                flags.setArith(flags.arith() & ~Flags.ZF);
            }
            return;
        }
        long expect = (r[RDX] << 32) | (r[RAX] & 0xFFFF_FFFFL);
        long value = (r[RCX] << 32) | (r[RBX] & 0xFFFF_FFFFL);
        if (mmu.compareAndSwap(lin, 8, expect, value)) {
            flags.setArith(flags.arith() | Flags.ZF);
        } else {
            long d = mmu.read(lin, 8);
            r[RAX] = d & 0xFFFF_FFFFL;
            r[RDX] = d >>> 32;
            flags.setArith(flags.arith() & ~Flags.ZF);
        }
    }
}
