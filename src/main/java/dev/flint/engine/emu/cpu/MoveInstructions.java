package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.mmu.Mmu;

import static dev.flint.engine.emu.cpu.CpuState.*;

/**
 * The data movement family: MOV in its forms (registers, memory, immediates, moffs, segment registers),
 * MOVZX/MOVSX/MOVSXD, LEA, XCHG (memory forms always locked), NOP/PAUSE, XLAT, CMOVcc, SETcc, MOVNTI, and
 * the far pointer loads LDS/LES/LSS/LFS/LGS.
 *
 * <p>Runs on the decoder's state of the current instruction ({@link Decoder}): it fetches its own ModRM
 * and immediates from there. {@link Interpreter} dispatches to it; it never calls back up.
 */
final class MoveInstructions {
    private final Decoder dec;
    private final CpuState s;
    private final long[] r;
    private final Flags flags;
    private final Mmu mmu;
    private final Descriptors desc;

    private final PauseLoopExit pauseLoop;

    MoveInstructions(Decoder dec, CpuState s, Mmu mmu, Descriptors desc, PauseLoopExit pauseLoop) {
        this.pauseLoop = pauseLoop;
        this.dec = dec;
        this.s = s;
        this.r = s.gpr;
        this.flags = s.flags;
        this.mmu = mmu;
        this.desc = desc;
    }

    void oneByte(int op) {
        switch (op) {
            case 0x63 -> {
                if (!dec.mode64) throw dec.undefined(op);
                dec.decodeModrm();
                long v = Alu.sext(dec.readE(4), 4);
                dec.setReg(dec.reg, dec.opSize, v);
            }
            case 0x86, 0x87 -> {
                int z = op == 0x86 ? 1 : dec.opSize;
                dec.decodeModrm();
                long v = dec.getReg(dec.reg, z);
                if (dec.memOp) {
                    // XCHG with memory is always locked.
                    long lin = dec.ea(z, true);
                    long old;
                    do {
                        old = mmu.read(lin, z);
                    } while (!mmu.compareAndSwap(lin, z, old, v));
                    dec.setReg(dec.reg, z, old);
                } else {
                    long o = dec.getReg(dec.rm, z);
                    dec.setReg(dec.rm, z, v);
                    dec.setReg(dec.reg, z, o);
                }
            }
            case 0x88 -> { dec.decodeModrm(); dec.writeE(1, dec.getReg(dec.reg, 1)); }
            case 0x89 -> { dec.decodeModrm(); dec.writeE(dec.opSize, dec.getReg(dec.reg, dec.opSize)); }
            case 0x8A -> { dec.decodeModrm(); dec.setReg(dec.reg, 1, dec.readE(1)); }
            case 0x8B -> { dec.decodeModrm(); dec.setReg(dec.reg, dec.opSize, dec.readE(dec.opSize)); }
            case 0x8C -> {
                dec.decodeModrm();
                int sr = dec.reg & 7;
                if (sr > GS) throw dec.ud();
                if (dec.memOp) dec.writeE(2, s.segSel[sr]);
                else dec.setReg(dec.rm, dec.opSize, s.segSel[sr]);
            }
            case 0x8D -> {
                dec.decodeModrm();
                if (!dec.memOp) throw dec.ud();
                dec.setReg(dec.reg, dec.opSize, dec.eaOffset());
            }
            case 0x8E -> {
                dec.decodeModrm();
                int sr = dec.reg & 7;
                if (sr == CS || sr > GS) throw dec.ud();
                desc.loadSegment(sr, (int) dec.readE(2));
                if (sr == SS) s.interruptShadow = true;
            }
            case 0x90 -> {
                if (dec.rexB != 0) xchgAx(8);
                // else NOP, or PAUSE with F3: a NOP for the guest, counted for pause-loop exiting
                else if (dec.repPrefix == 0xF3) pauseLoop.pause();
            }
            case 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97 -> xchgAx(op & 7 | dec.rexB);
            case 0xA0, 0xA1, 0xA2, 0xA3 -> {
                long off = dec.adSize == 8 ? dec.fetch64() : dec.adSize == 4 ? dec.fetch32() & 0xFFFF_FFFFL : dec.fetch16();
                int z = (op & 1) == 0 ? 1 : dec.opSize;
                long lin = dec.linear(dec.seg >= 0 ? dec.seg : DS, off, z, op >= 0xA2);
                if (op < 0xA2) dec.setReg(RAX, z, mmu.read(lin, z));
                else mmu.write(lin, z, dec.getReg(RAX, z));
            }
            case 0xB0, 0xB1, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7 -> dec.setReg((op & 7) | dec.rexB, 1, dec.fetch8());
            case 0xB8, 0xB9, 0xBA, 0xBB, 0xBC, 0xBD, 0xBE, 0xBF -> {
                long v = dec.opSize == 8 ? dec.fetch64() : dec.fetchImm(dec.opSize);
                dec.setReg((op & 7) | dec.rexB, dec.opSize, v);
            }
            case 0xC4, 0xC5 -> {
                if (dec.mode64) throw dec.undefined(op); // VEX: no AVX advertised
                dec.decodeModrm();
                if (!dec.memOp) throw dec.ud();
                long lin = dec.ea(dec.opSize + 2, false);
                long off = mmu.read(lin, dec.opSize);
                int sel = (int) mmu.read(lin + dec.opSize, 2);
                desc.loadSegment(op == 0xC4 ? ES : DS, sel);
                dec.setReg(dec.reg, dec.opSize, off);
            }
            case 0xC6 -> { dec.decodeModrm(); if ((dec.reg & 7) != 0) throw dec.ud(); long v = dec.fetch8(); dec.writeE(1, v); }
            case 0xC7 -> {
                dec.decodeModrm();
                if ((dec.reg & 7) != 0) throw dec.ud();
                long v = Alu.sext(dec.fetchImm(Math.min(dec.opSize, 4)), Math.min(dec.opSize, 4));
                dec.writeE(dec.opSize, v);
            }
            case 0xD7 -> {
                long off = (r[RBX] + (r[RAX] & 0xFF)) & dec.adMask();
                dec.setReg(RAX, 1, mmu.read(dec.linear(dec.seg >= 0 ? dec.seg : DS, off, 1, false), 1));
            }
            default -> throw dec.undefined(op);
        }
    }

    void twoByte(int op) {
        switch (op) {
            case 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F -> {
                dec.decodeModrm();
                long v = dec.readE(dec.opSize);
                if (flags.cond(op & 15)) dec.setReg(dec.reg, dec.opSize, v);
                else if (dec.opSize == 4) dec.setReg(dec.reg, 4, dec.getReg(dec.reg, 4)); // 32-bit CMOV always zero-extends
            }
            case 0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F -> {
                dec.decodeModrm();
                dec.writeE(1, flags.cond(op & 15) ? 1 : 0);
            }
            case 0xB2, 0xB4, 0xB5 -> { // LSS/LFS/LGS
                dec.decodeModrm();
                if (!dec.memOp) throw dec.ud();
                long lin = dec.ea(dec.opSize + 2, false);
                long off = mmu.read(lin, dec.opSize);
                int sel = (int) mmu.read(lin + dec.opSize, 2);
                desc.loadSegment(op == 0xB2 ? SS : op == 0xB4 ? FS : GS, sel);
                dec.setReg(dec.reg, dec.opSize, off);
            }
            case 0xB6, 0xB7 -> { dec.decodeModrm(); dec.setReg(dec.reg, dec.opSize, dec.readE(op == 0xB6 ? 1 : 2)); }
            case 0xBE, 0xBF -> { int z = op == 0xBE ? 1 : 2; dec.decodeModrm(); dec.setReg(dec.reg, dec.opSize, Alu.sext(dec.readE(z), z)); }
            case 0xC3 -> { dec.decodeModrm(); if (!dec.memOp) throw dec.ud(); dec.writeE(dec.opSize, dec.getReg(dec.reg, dec.opSize)); } // MOVNTI
            default -> throw dec.undefined(0x0F00 | op);
        }
    }

    void xchgAx(int n) {
        long a = dec.getReg(RAX, dec.opSize);
        dec.setReg(RAX, dec.opSize, dec.getReg(n, dec.opSize));
        dec.setReg(n, dec.opSize, a);
    }
}
