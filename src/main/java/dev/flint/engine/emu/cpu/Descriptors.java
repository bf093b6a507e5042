package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.mmu.Mmu;

import static dev.flint.engine.emu.cpu.CpuState.*;

/**
 * Segment descriptors: reading them from the GDT/LDT, checking them, and loading segment registers,
 * LDTR and TR, as MOV/POP to a segment register, far transfers, LLDT and LTR do. Descriptor attribute
 * bits are kept in the layout {@link CpuState} documents (type, S, DPL, P, AVL, L, D/B, G).
 */
final class Descriptors {
    private final Decoder dec;
    private final CpuState s;
    private final Mmu mmu;

    Descriptors(Decoder dec, CpuState s, Mmu mmu) {
        this.dec = dec;
        this.s = s;
        this.mmu = mmu;
    }

    /** Linear address of the descriptor for {@code sel}, or #GP(sel) if outside its table. */
    long descriptorAddress(int sel, int errorVector) {
        boolean ldt = (sel & 4) != 0;
        long base = ldt ? s.segBase[LDTR] : s.gdtBase;
        long limit = ldt ? s.segLimit[LDTR] : s.gdtLimit;
        if (ldt && (s.segAttr[LDTR] & A_P) == 0) throw GuestFault.of(errorVector, sel & ~3);
        if ((sel | 7) > limit) throw GuestFault.of(errorVector, sel & ~3);
        return base + (sel & ~7);
    }

    long readDescriptor(int sel, int errorVector) {
        return mmu.readSystem(descriptorAddress(sel, errorVector), 8);
    }

    static long base(long d) { return ((d >>> 16) & 0xFF_FFFFL) | (((d >>> 56) & 0xFF) << 24); }

    static long limit(long d) {
        long l = (d & 0xFFFF) | (((d >>> 48) & 0xF) << 16);
        return ((d >>> 55) & 1) != 0 ? (l << 12) | 0xFFF : l;
    }

    static int attr(long d) { return (int) (((d >>> 40) & 0xFF) | (((d >>> 52) & 0xF) << 12)); }

    /** Loads ES/SS/DS/FS/GS (not CS) with the checks MOV Sreg / POP Sreg / LxS perform. */
    void loadSegment(int reg, int sel) {
        sel &= 0xFFFF;
        if (!s.protectedMode() || (s.flags.system & Flags.VM) != 0) {
            s.segSel[reg] = sel;
            s.segBase[reg] = (long) sel << 4;
            if ((s.flags.system & Flags.VM) != 0) {
                s.segLimit[reg] = 0xFFFF;
                s.segAttr[reg] = 0xF3;
            }
            return;
        }
        if ((sel & ~3) == 0) {
            // Null selector: legal for data segments; for SS only in 64-bit mode below CPL 3.
            if (reg == SS && !(s.mode64() && s.cpl != 3 && (sel & 3) == s.cpl)) throw GuestFault.gp(0);
            s.segSel[reg] = sel;
            s.segBase[reg] = 0; // Intel clears the base of a null FS/GS too
            s.segLimit[reg] = 0;
            s.segAttr[reg] = reg == SS ? (s.cpl << 5) | A_DB : 0; // unusable
            return;
        }
        long d = readDescriptor(sel, GuestFault.GP);
        int a = attr(d);
        int type = a & 0xF;
        int dpl = (a >> 5) & 3;
        int rpl = sel & 3;
        if ((a & A_S) == 0) throw GuestFault.gp(sel & ~3);
        if (reg == SS) {
            if ((type & 0xA) != 0x2 || rpl != s.cpl || dpl != s.cpl) throw GuestFault.gp(sel & ~3);
            if ((a & A_P) == 0) throw GuestFault.of(GuestFault.SS, sel & ~3);
        } else {
            boolean code = (type & 8) != 0;
            if (code && (type & 2) == 0) throw GuestFault.gp(sel & ~3); // execute-only code
            boolean conforming = code && (type & 4) != 0;
            if (!conforming && (dpl < s.cpl || dpl < rpl)) throw GuestFault.gp(sel & ~3);
            if ((a & A_P) == 0) throw GuestFault.of(GuestFault.NP, sel & ~3);
        }
        setAccessed(sel, d);
        s.segSel[reg] = sel;
        s.segBase[reg] = base(d);
        s.segLimit[reg] = limit(d);
        s.segAttr[reg] = a | 1;
    }

    void setAccessed(int sel, long d) {
        if ((d & (1L << 40)) == 0) mmu.writeSystem(descriptorAddress(sel, GuestFault.GP) + 5, 1, (d >>> 40) | 1);
    }

    /** Loads CS from a code descriptor for a far transfer to privilege level {@code newCpl}. */
    void loadCode(int sel, long d, int newCpl) {
        setAccessed(sel, d);
        s.segSel[CS] = (sel & ~3) | newCpl;
        s.segBase[CS] = base(d);
        s.segLimit[CS] = limit(d);
        s.segAttr[CS] = attr(d) | 1;
        s.cpl = newCpl;
        dec.modeChanged();
    }

    /** Real-mode style CS load (real mode, or leaving to it). */
    void loadRealCode(int sel) {
        s.segSel[CS] = sel & 0xFFFF;
        s.segBase[CS] = (long) (sel & 0xFFFF) << 4;
        dec.modeChanged();
    }

    /** Loads a flat data segment for SYSCALL/SYSRET style transitions (no table read, like hardware). */
    void loadFlat(int reg, int sel, int attr) {
        s.segSel[reg] = sel;
        s.segBase[reg] = 0;
        s.segLimit[reg] = 0xFFFF_FFFFL;
        s.segAttr[reg] = attr;
    }

    /** 0F 00: SLDT, STR, LLDT, LTR, VERR, VERW. */
    void group6(Decoder c) {
        c.decodeModrm();
        int op = c.reg & 7;
        if (!s.protectedMode()) throw GuestFault.ud();
        switch (op) {
            case 0, 1 -> {
                int v = s.segSel[op == 0 ? LDTR : TR];
                if (c.memOp) c.writeE(2, v);
                else c.setReg(c.rm, c.opSize, v);
            }
            case 2, 3 -> {
                if (s.cpl != 0) throw GuestFault.gp(0);
                int sel = (int) c.readE(2) & 0xFFFF;
                if (op == 2) lldt(sel);
                else ltr(sel);
            }
            case 4, 5 -> {
                int sel = (int) c.readE(2) & 0xFFFF;
                boolean ok = false;
                try {
                    if ((sel & ~3) != 0) {
                        long d = readDescriptor(sel, GuestFault.GP);
                        int a = attr(d);
                        int type = a & 0xF;
                        boolean code = (type & 8) != 0;
                        boolean conforming = code && (type & 4) != 0;
                        int dpl = (a >> 5) & 3;
                        boolean visible = conforming || (dpl >= s.cpl && dpl >= (sel & 3));
                        ok = (a & A_S) != 0 && visible && (op == 4 ? (!code || (type & 2) != 0) : (!code && (type & 2) != 0));
                    }
                } catch (GuestFault f) {
                    ok = false;
                }
                long f = s.flags.arith() & ~Flags.ZF;
                s.flags.setArith(ok ? f | Flags.ZF : f);
            }
            default -> throw GuestFault.ud();
        }
    }

    private void lldt(int sel) {
        if ((sel & ~3) == 0) {
            s.segSel[LDTR] = sel;
            s.segAttr[LDTR] = 0;
            return;
        }
        if ((sel & 4) != 0) throw GuestFault.gp(sel & ~3);
        long d = readDescriptor(sel, GuestFault.GP);
        int a = attr(d);
        if ((a & A_S) != 0 || (a & 0xF) != 2) throw GuestFault.gp(sel & ~3);
        if ((a & A_P) == 0) throw GuestFault.of(GuestFault.NP, sel & ~3);
        long base = base(d);
        if (s.longMode()) base |= mmu.readSystem(descriptorAddress(sel, GuestFault.GP) + 8, 4) << 32;
        s.segSel[LDTR] = sel;
        s.segBase[LDTR] = base;
        s.segLimit[LDTR] = limit(d);
        s.segAttr[LDTR] = a;
    }

    private void ltr(int sel) {
        if ((sel & ~3) == 0 || (sel & 4) != 0) throw GuestFault.gp(sel & ~3);
        long d = readDescriptor(sel, GuestFault.GP);
        int a = attr(d);
        int type = a & 0xF;
        if ((a & A_S) != 0 || (type != 9 && type != 1)) throw GuestFault.gp(sel & ~3);
        if ((a & A_P) == 0) throw GuestFault.of(GuestFault.NP, sel & ~3);
        long addr = descriptorAddress(sel, GuestFault.GP);
        long base = base(d);
        if (s.longMode()) base |= mmu.readSystem(addr + 8, 4) << 32;
        mmu.writeSystem(addr + 5, 1, ((d >>> 40) & 0xFF) | 2); // mark busy
        s.segSel[TR] = sel;
        s.segBase[TR] = base;
        s.segLimit[TR] = limit(d);
        s.segAttr[TR] = a | 2;
    }

    /** LAR / LSL: ZF=1 and the access rights or limit if the descriptor is visible, else ZF=0. */
    void larLsl(Decoder c, boolean lar, int sel, int dest, int size) {
        if (!s.protectedMode()) throw GuestFault.ud();
        long f = s.flags.arith() & ~Flags.ZF;
        if ((sel & ~3) == 0) {
            s.flags.setArith(f);
            return;
        }
        long d;
        try {
            d = readDescriptor(sel, GuestFault.GP);
        } catch (GuestFault e) {
            s.flags.setArith(f);
            return;
        }
        int a = attr(d);
        int type = a & 0xF;
        int dpl = (a >> 5) & 3;
        boolean conforming = (a & A_S) != 0 && (type & 0xC) == 0xC;
        boolean validSystem = (a & A_S) != 0 || switch (type) {
            case 1, 2, 3, 9, 11 -> true;
            case 4, 5, 12 -> lar && !s.longMode();
            default -> false;
        };
        if (!validSystem || (!conforming && (dpl < s.cpl || dpl < (sel & 3)))) {
            s.flags.setArith(f);
            return;
        }
        long v = lar ? (d >>> 32) & 0x00F0_FF00L : limit(d);
        c.setReg(dest, size, v);
        s.flags.setArith(f | Flags.ZF);
    }
}
