package dev.flint.engine.emu.cpu;

import static dev.flint.engine.emu.cpu.CpuState.*;

/**
 * The bit family: BT/BTS/BTR/BTC (register and immediate offsets, with LOCK), BSF/BSR, POPCNT and
 * BSWAP.
 *
 * <p>Runs on the decoder's state of the current instruction ({@link Decoder}): it fetches its own ModRM
 * and immediates from there. {@link Interpreter} dispatches to it; it never calls back up.
 */
final class BitInstructions {
    private final Decoder dec;
    private final CpuState s;
    private final long[] r;
    private final Flags flags;

    BitInstructions(Decoder dec, CpuState s) {
        this.dec = dec;
        this.s = s;
        this.r = s.gpr;
        this.flags = s.flags;
    }

    void twoByte(int op) {
        switch (op) {
            case 0xA3, 0xAB, 0xB3, 0xBB -> {
                dec.decodeModrm();
                int bop = switch (op) { case 0xA3 -> 4; case 0xAB -> 5; case 0xB3 -> 6; default -> 7; };
                bitTest(bop, Alu.sext(dec.getReg(dec.reg, dec.opSize), dec.opSize), true);
            }
            case 0xBA -> {
                dec.decodeModrm();
                int bop = dec.reg & 7;
                if (bop < 4) throw dec.ud();
                bitTest(bop, dec.fetch8(), false);
            }
            case 0xB8 -> {
                if (dec.repPrefix != 0xF3) throw dec.undefined(0x0FB8);
                dec.decodeModrm();
                long v = dec.readE(dec.opSize);
                int n = Long.bitCount(v);
                dec.setReg(dec.reg, dec.opSize, n);
                flags.setArith(v == 0 ? Flags.ZF : 0);
            }
            case 0xBC, 0xBD -> { // BSF/BSR (TZCNT/LZCNT are not advertised, so F3 is ignored as on older CPUs)
                dec.decodeModrm();
                long v = dec.readE(dec.opSize);
                long f = flags.arith() & ~Flags.ZF;
                if (v == 0) {
                    flags.setArith(f | Flags.ZF);
                } else {
                    dec.setReg(dec.reg, dec.opSize, op == 0xBC ? Long.numberOfTrailingZeros(v) : 63 - Long.numberOfLeadingZeros(v));
                    flags.setArith(f);
                }
            }
            case 0xC8, 0xC9, 0xCA, 0xCB, 0xCC, 0xCD, 0xCE, 0xCF -> {
                int n = (op & 7) | dec.rexB;
                if (dec.opSize == 8) r[n] = Long.reverseBytes(r[n]);
                else if (dec.opSize == 4) dec.setReg(n, 4, Integer.reverseBytes((int) r[n]));
                else dec.setReg(n, 2, 0); // undefined on hardware; zero is what current CPUs produce
            }
            default -> throw dec.undefined(0x0F00 | op);
        }
    }

    void bitTest(int bop, long bitOffset, boolean registerOffset) {
        int z = dec.opSize;
        int bits = z * 8;
        if (dec.memOp && registerOffset) {
            // A register bit offset can address memory beyond the operand: move the address first.
            long byteDisp = (bitOffset >> (bits == 16 ? 4 : bits == 32 ? 5 : 6)) * z;
            dec.eaOff += byteDisp;
            bitOffset &= bits - 1;
        } else {
            bitOffset &= bits - 1;
        }
        dec.rmw(Alu.K_BT, bop, z, bitOffset, bop != 4);
    }
}
