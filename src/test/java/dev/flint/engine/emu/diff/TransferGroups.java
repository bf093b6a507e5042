package dev.flint.engine.emu.diff;

import static dev.flint.engine.emu.diff.Emit.*;
import static dev.flint.engine.emu.diff.Flags.AF;
import static dev.flint.engine.emu.diff.Flags.CF;
import static dev.flint.engine.emu.diff.Flags.OF;
import static dev.flint.engine.emu.diff.Flags.PF;
import static dev.flint.engine.emu.diff.Flags.SF;
import static dev.flint.engine.emu.diff.Flags.STATUS;
import static dev.flint.engine.emu.diff.Flags.ZF;

import dev.flint.engine.emu.diff.Operand.Mem;
import dev.flint.engine.emu.diff.Operand.Reg;
import java.util.Random;

/**
 * Data movement: MOV (incl. moffs), MOVZX/MOVSX/MOVSXD, LEA, and the exchanges XCHG/XADD/CMPXCHG/CMPXCHG8B.
 * Emitters as described in {@link Emit}.
 */
final class TransferGroups {
    private TransferGroups() {}

    // ---- moves: MOV, MOVZX/MOVSX/MOVSXD, LEA -----------------------------------------------------

    static void moves(SequenceBuilder b) {
        Random rnd = b.rnd;
        int size = pickSize(rnd);
        boolean l8 = legacy8(rnd, size);
        switch (rnd.nextInt(8)) {
            case 7 -> {                                            // MOV AL/AX/EAX/RAX <-> [moffs64] (A0-A3)
                boolean store = rnd.nextBoolean();
                long address = b.layout.data() + rnd.nextInt(Layout.DATA_SIZE - size + 1);
                int[] op = concat(prefixes(0, size), size == 8 ? new int[] {0x48} : NONE,
                        new int[] {(store ? 0xA2 : 0xA0) + (size == 1 ? 0 : 1)});
                Reg acc = Reg.of(0, size);
                b.insn(Encoder.plain(op, address, 8), store ? String.format("mov [0x%x], %s", address, acc)
                        : String.format("mov %s, [0x%x]", acc, address), 0, 0);
            }
            case 0 -> {                                            // MOV r/m, reg
                Operand dst = b.destRm(size, l8);
                Reg src = b.src(size, l8);
                b.insn(rm(b, 0, size, new int[] {0x88}, new int[] {0x89}, src.code(), src, dst, 0, 0), "mov " + dst + ", " + src, 0, 0);
            }
            case 1 -> {                                            // MOV reg, r/m
                Reg dst = b.dest(size, l8);
                Operand src = b.srcRm(size, l8);
                b.insn(rm(b, 0, size, new int[] {0x8A}, new int[] {0x8B}, dst.code(), dst, src, 0, 0), "mov " + dst + ", " + src, 0, 0);
            }
            case 2 -> {                                            // MOV r/m, imm / MOV reg, imm (B0+r, B8+r incl. imm64)
                if (rnd.nextBoolean()) {
                    Operand dst = b.destRm(size, l8);
                    int n = immBytes(size);
                    long imm = Values.imm(rnd, n);
                    b.insn(rm(b, 0, size, new int[] {0xC6}, new int[] {0xC7}, 0, null, dst, imm, n),
                            String.format("mov %s, 0x%x", dst, imm), 0, 0);
                } else {
                    Reg dst = b.dest(size, l8);
                    long imm = Values.imm(rnd, size);
                    b.insn(Encoder.opReg(prefixes(0, size), size == 8, new int[] {size == 1 ? 0xB0 : 0xB8}, dst, imm, size),
                            String.format("mov %s, 0x%x", dst, imm), 0, 0);
                }
            }
            case 3 -> {                                            // MOVZX/MOVSX from 8 or 16 bits
                boolean sign = rnd.nextBoolean();
                boolean fromByte = rnd.nextBoolean();
                int s = fromByte ? 2 << rnd.nextInt(3) : 4 << rnd.nextInt(2);
                boolean legacy = fromByte && s != 8 && rnd.nextBoolean();
                Reg dst = legacy ? b.dest(s, false) : b.dest(s, false);
                if (legacy && (dst.num() >= 8)) {
                    legacy = false;
                }
                Operand src = b.srcRm(fromByte ? 1 : 2, legacy);
                int op = (sign ? 0xBE : 0xB6) + (fromByte ? 0 : 1);
                b.insn(Encoder.modrm(b.pc(), prefixes(0, s), s == 8, new int[] {0x0F, op}, dst.code(), dst, src, 0, 0),
                        (sign ? "movsx " : "movzx ") + dst + ", " + src, 0, 0);
            }
            case 4 -> {                                            // MOVSXD r64, r/m32
                Reg dst = b.dest(8, false);
                Operand src = b.srcRm(4, false);
                b.insn(Encoder.modrm(b.pc(), NONE, true, new int[] {0x63}, dst.code(), dst, src, 0, 0),
                        "movsxd " + dst + ", " + src, 0, 0);
            }
            default -> {                                           // LEA, sometimes with a 32-bit address size
                int s = 2 << rnd.nextInt(3);
                Reg dst = b.dest(s, false);
                Mem m = b.mem(1, false);
                boolean addr32 = rnd.nextInt(3) == 0;
                int[] legacy = addr32 ? concat(prefixes(0, s), new int[] {0x67}) : prefixes(0, s);
                b.insn(Encoder.modrm(b.pc(), legacy, s == 8, new int[] {0x8D}, dst.code(), dst, m, 0, 0),
                        (addr32 ? "addr32 " : "") + "lea " + dst + ", " + m, 0, 0);
            }
        }
    }


    // ---- exchanges: XCHG, XADD, CMPXCHG, CMPXCHG8B/16B -------------------------------------------

    static void exchange(SequenceBuilder b) {
        Random rnd = b.rnd;
        int size = pickSize(rnd);
        boolean l8 = legacy8(rnd, size);
        switch (rnd.nextInt(5)) {
            case 0 -> {                                            // XCHG r/m, reg (memory form is locked implicitly)
                Operand dst = b.destRm(size, l8);
                Reg src = b.dest(size, l8);
                b.insn(rm(b, 0, size, new int[] {0x86}, new int[] {0x87}, src.code(), src, dst, 0, 0), "xchg " + dst + ", " + src, 0, 0);
            }
            case 1 -> {                                            // XCHG rAX, reg (90+r; 90 alone is NOP)
                int s = 2 << rnd.nextInt(3);
                Reg r = b.dest(s, false);
                if (r.num() == 0) {
                    r = Reg.of(8 + rnd.nextInt(8), s);
                    if (b.isReserved(r.num())) {
                        return;
                    }
                }
                b.insn(Encoder.opReg(prefixes(0, s), s == 8, new int[] {0x90}, r, 0, 0), "xchg " + Reg.of(0, s) + ", " + r, 0, 0);
            }
            case 2 -> {                                            // XADD r/m, reg
                Operand dst = b.destRm(size, l8);
                Reg src = b.dest(size, l8);
                int lock = dst instanceof Mem && rnd.nextBoolean() ? 0xF0 : 0;
                b.insn(rm(b, lock, size, new int[] {0x0F, 0xC0}, new int[] {0x0F, 0xC1}, src.code(), src, dst, 0, 0),
                        (lock != 0 ? "lock " : "") + "xadd " + dst + ", " + src, STATUS, 0);
            }
            case 3 -> {                                            // CMPXCHG r/m, reg (accumulator compared)
                Operand dst = b.destRm(size, l8);
                Reg src = b.src(size, l8);
                if (rnd.nextBoolean()) {                           // make the equal case likely
                    Reg acc = Reg.of(0, size);
                    b.setup(rm(b, 0, size, new int[] {0x8A}, new int[] {0x8B}, 0, acc, dst, 0, 0), "mov " + acc + ", " + dst);
                }
                int lock = dst instanceof Mem && rnd.nextBoolean() ? 0xF0 : 0;
                b.insn(rm(b, lock, size, new int[] {0x0F, 0xB0}, new int[] {0x0F, 0xB1}, src.code(), src, dst, 0, 0),
                        (lock != 0 ? "lock " : "") + "cmpxchg " + dst + ", " + src, STATUS, 0);
            }
            default -> {                                           // CMPXCHG8B / CMPXCHG16B
                boolean wide = rnd.nextBoolean();
                int n = wide ? 16 : 8;
                Mem m = b.memAt(n, false, 0, Layout.DATA_SIZE);
                m = alignTarget(b, m, n);
                if (m == null) {
                    return;
                }
                if (rnd.nextBoolean()) {
                    int half = n / 2;
                    Mem lo = new Mem(m.base(), m.index(), m.scale(), m.disp(), half, m.wideDisp());
                    Mem hi = new Mem(m.base(), m.index(), m.scale(), m.disp() + half, half, m.wideDisp());
                    b.setup(rm(b, 0, half, null, new int[] {0x8B}, 0, Reg.of(0, half), lo, 0, 0), "mov " + Reg.of(0, half) + ", " + lo);
                    b.setup(rm(b, 0, half, null, new int[] {0x8B}, 2, Reg.of(2, half), hi, 0, 0), "mov " + Reg.of(2, half) + ", " + hi);
                }
                int lock = rnd.nextBoolean() ? 0xF0 : 0;
                b.insn(Encoder.modrm(b.pc(), lock != 0 ? new int[] {lock} : NONE, wide, new int[] {0x0F, 0xC7}, 1, null, m, 0, 0),
                        (lock != 0 ? "lock " : "") + (wide ? "cmpxchg16b " : "cmpxchg8b ") + m, ZF, 0);
            }
        }
    }
}
