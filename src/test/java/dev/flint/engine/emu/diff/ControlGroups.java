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
 * Flag consumers and control flow: SETcc, CMOVcc, forward Jcc/JMP/JRCXZ/LOOP, indirect JMP, LAHF/SAHF,
 * CMC/CLC/STC, and the 67-prefixed LOOP/JECXZ and string ops.
 * Emitters as described in {@link Emit}.
 */
final class ControlGroups {
    private ControlGroups() {}

    // ---- flag consumers: SETcc, CMOVcc, Jcc/JMP/JRCXZ/LOOP forward, LAHF/SAHF, CMC/CLC/STC ----------

    static void conditional(SequenceBuilder b) {
        Random rnd = b.rnd;
        switch (rnd.nextInt(6)) {
            case 0 -> {
                int cc = rnd.nextInt(16);
                b.needFlags(flagsRead(cc));
                boolean l8 = rnd.nextBoolean();
                Operand dst = b.destRm(1, l8);
                b.insn(Encoder.modrm(b.pc(), NONE, false, new int[] {0x0F, 0x90 + cc}, 0, null, dst, 0, 0),
                        "set" + CC[cc] + " " + dst, 0, 0);
            }
            case 1 -> {
                int cc = rnd.nextInt(16);
                int s = 2 << rnd.nextInt(3);
                b.needFlags(flagsRead(cc));
                Reg dst = b.dest(s, false);
                Operand src = b.srcRm(s, false);
                b.insn(rm(b, 0, s, null, new int[] {0x0F, 0x40 + cc}, dst.code(), dst, src, 0, 0),
                        "cmov" + CC[cc] + " " + dst + ", " + src, 0, 0);
            }
            case 2 -> forwardJump(b, false);
            case 3 -> {
                if (rnd.nextBoolean()) {
                    b.needFlags(SF | ZF | AF | PF | CF);
                    b.insn(new byte[] {(byte) 0x9F}, "lahf", 0, 0);
                } else {
                    b.insn(new byte[] {(byte) 0x9E}, "sahf", SF | ZF | AF | PF | CF, 0);
                }
            }
            case 4 -> {
                int k = rnd.nextInt(3);
                if (k == 0) {
                    b.needFlags(CF);
                }
                b.insn(new byte[] {(byte) new int[] {0xF5, 0xF8, 0xF9}[k]}, new String[] {"cmc", "clc", "stc"}[k], CF, 0);
            }
            default -> ArithmeticGroups.alu(b);                                     // something to set flags for the consumers
        }
    }

    /** LOOP/JECXZ with the 67 prefix (count in ECX), or a string op with it. */
    static void addr32(SequenceBuilder b) {
        if (b.rnd.nextBoolean()) {
            forwardJump(b, true);
        } else {
            MemoryGroups.stringAddr32(b);
        }
    }

    private static void forwardJump(SequenceBuilder b, boolean addr32) {
        Random rnd = b.rnd;
        int kind = addr32 ? 5 : rnd.nextInt(7);
        if (kind == 6) {
            indirectJump(b);
            return;
        }                                 // 0-2 Jcc rel8, 3 Jcc rel32, 4 JMP rel8, 5 JRCXZ/LOOP
        int cc = rnd.nextInt(16);
        byte[] jump;
        String text;
        if (kind <= 3) {
            b.needFlags(flagsRead(cc));
            jump = kind == 3 ? new byte[] {0x0F, (byte) (0x80 + cc), 0, 0, 0, 0} : new byte[] {(byte) (0x70 + cc), 0};
            text = "j" + CC[cc] + (kind == 3 ? " rel32" : " rel8");
        } else if (kind == 4) {
            jump = new byte[] {(byte) 0xEB, 0};
            text = "jmp rel8";
        } else {
            if (rnd.nextBoolean()) {
                long junk = addr32 ? rnd.nextLong() << 32 : 0;
                b.load(1, junk | (rnd.nextBoolean() ? 0 : rnd.nextInt(3)));
            }
            boolean loop = rnd.nextBoolean();
            boolean ecx = addr32;                                  // 67: LOOP/JECXZ use ECX
            jump = ecx ? new byte[] {0x67, (byte) (loop ? 0xE2 : 0xE3), 0} : new byte[] {(byte) (loop ? 0xE2 : 0xE3), 0};
            text = (ecx ? "addr32 " : "") + (loop ? "loop rel8 (rcx-1 != 0)" : "jrcxz rel8");
        }
        int at = b.size();
        b.insn(jump, text + " (forward, over the next block)", 0, 0);
        long before = b.definedFlags();
        int blockStart = b.size();
        int n = rnd.nextInt(3);
        for (int i = 0; i < n; i++) {
            ArithmeticGroups.alu(b);
        }
        int distance = b.size() - blockStart;
        if (jump.length == 6) {
            for (int i = 0; i < 4; i++) {
                b.patch(at + 2 + i, (byte) (distance >>> (8 * i)));
            }
        } else {
            b.patch(at + jump.length - 1, (byte) distance);
        }
        b.joinFlags(before);
    }

    /** {@code lea r64, [rip -> over]; jmp r64} (FF /4) over a block: RIP-relative LEA and an indirect jump. */
    private static void indirectJump(SequenceBuilder b) {
        Random rnd = b.rnd;
        Reg r = b.dest(8, false);
        int leaAt = b.size();
        b.insn(Encoder.modrm(b.pc(), NONE, true, new int[] {0x8D}, r.code(), r, new Mem(-1, -1, 1, b.pc() + 7, 1, true), 0, 0),
                "lea " + r + ", [rip -> after the block]", 0, 0);
        int jumpAt = b.size();
        b.insn(Encoder.modrm(b.pc(), NONE, false, new int[] {0xFF}, 4, null, r, 0, 0), "jmp " + r, 0, 0);
        long before = b.definedFlags();
        int n = 1 + rnd.nextInt(2);
        b.restricted(r.num(), false, () -> {
            for (int i = 0; i < n; i++) {
                ArithmeticGroups.alu(b);
            }
        });
        int disp = b.size() - jumpAt;                              // LEA's RIP is the jump's address
        for (int i = 0; i < 4; i++) {
            b.patch(leaAt + 3 + i, (byte) (disp >>> (8 * i)));
        }
        b.joinFlags(before);
    }
}
