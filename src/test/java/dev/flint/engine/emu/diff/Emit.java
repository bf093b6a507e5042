package dev.flint.engine.emu.diff;

import static dev.flint.engine.emu.diff.Flags.CF;
import static dev.flint.engine.emu.diff.Flags.OF;
import static dev.flint.engine.emu.diff.Flags.PF;
import static dev.flint.engine.emu.diff.Flags.SF;
import static dev.flint.engine.emu.diff.Flags.ZF;

import dev.flint.engine.emu.diff.Operand.Mem;
import dev.flint.engine.emu.diff.Operand.Reg;
import java.util.Random;

/**
 * Encoding and operand helpers shared by the general-purpose instruction groups. Each group's emitter adds
 * one tested instruction (plus any setup it needs) to a {@link SequenceBuilder} and declares the flags it
 * reads and which it leaves defined or undefined. The undefined-flag masks follow the Intel SDM and AMD
 * APM; where the two manuals differ the flag counts as undefined (e.g. ZF after BT).
 */
final class Emit {
    static final String[] ALU_NAMES = {"add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"};
    static final String[] CC = {"o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"};
    static final int[] NONE = {};
    /** Flags AND/OR/XOR/TEST define (AF is left undefined). */
    static final long LOGIC_DEF = CF | OF | SF | ZF | PF;

    // ---- shared encoding helpers -----------------------------------------------------------------

    static int pickSize(Random rnd) {
        return 1 << rnd.nextInt(4);
    }

    static int[] prefixes(int lock, int size) {
        if (lock != 0 && size == 2) {
            return new int[] {lock, 0x66};
        }
        if (lock != 0) {
            return new int[] {lock};
        }
        return size == 2 ? new int[] {0x66} : NONE;
    }

    /** ModRM instruction with operand size {@code size}: opcode {@code op8} for bytes, {@code opV} otherwise. */
    static byte[] rm(SequenceBuilder b, int lock, int size, int[] op8, int[] opV, int reg, Reg regOp, Operand rm,
                     long imm, int immSize) {
        return Encoder.modrm(b.pc(), prefixes(lock, size), size == 8, size == 1 ? op8 : opV, reg, regOp, rm, imm,
                immSize);
    }

    static int immBytes(int size) {
        return Math.min(size, 4);
    }

    static long flagsRead(int cc) {
        return switch (cc >> 1) {
            case 0 -> OF;
            case 1 -> CF;
            case 2 -> ZF;
            case 3 -> CF | ZF;
            case 4 -> SF;
            case 5 -> PF;
            case 6 -> SF | OF;
            default -> SF | OF | ZF;
        };
    }

    static boolean legacy8(Random rnd, int size) {
        return size == 1 && rnd.nextBoolean();
    }


    /** Rewrites a base/index operand to point at an n-aligned address; null for RIP-relative operands. */
    static Mem alignTarget(SequenceBuilder b, Mem m, int n) {
        if (m.ripRelative()) {
            long t = m.disp() & -n;
            return new Mem(-1, -1, 1, t, m.size(), true);
        }
        long base = b.initial.gpr[m.base()];
        long index = m.index() >= 0 ? b.initial.gpr[m.index()] * m.scale() : 0;
        long target = base + index + m.disp();
        long aligned = target & -n;
        if (aligned < b.layout.data()) {
            aligned += n;
        }
        return new Mem(m.base(), m.index(), m.scale(), m.disp() + (aligned - target), m.size(), m.wideDisp());
    }

    static int[] concat(int[]... parts) {
        int n = 0;
        for (int[] p : parts) {
            n += p.length;
        }
        int[] out = new int[n];
        int i = 0;
        for (int[] p : parts) {
            System.arraycopy(p, 0, out, i, p.length);
            i += p.length;
        }
        return out;
    }

    private Emit() {}
}
