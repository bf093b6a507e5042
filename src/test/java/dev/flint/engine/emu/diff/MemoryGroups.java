package dev.flint.engine.emu.diff;

import static dev.flint.engine.emu.diff.Flags.STATUS;

import dev.flint.engine.emu.diff.Operand.Mem;
import dev.flint.engine.emu.diff.Operand.Reg;
import java.util.Random;

/** String instructions over the data page and PUSH/POP/CALL over the stack window. */
final class MemoryGroups {
    /** How far PUSH/POP may move RSP from the middle of the data page. */
    private static final int STACK_REACH = 0x180;
    private static final String[] SUFFIX = {"b", "w", "d", "q"};

    private MemoryGroups() {}

    /**
     * MOVS/STOS/LODS/CMPS/SCAS with and without REP/REPE/REPNE, DF 0 and 1. RSI/RDI start in the middle
     * of the data page and RCX is small, so both directions stay inside it.
     */
    static void string(SequenceBuilder b) {
        string(b, false);
    }

    /** String ops with the 67 prefix: ESI/EDI/ECX address and count; junk in bits 63:32 must not matter. */
    static void stringAddr32(SequenceBuilder b) {
        string(b, true);
    }

    private static void string(SequenceBuilder b, boolean addr32) {
        Random rnd = b.rnd;
        int size = Emit.pickSize(rnd);
        int log = Integer.numberOfTrailingZeros(size);
        boolean down = rnd.nextBoolean();
        b.insn(new byte[] {(byte) (down ? 0xFD : 0xFC)}, down ? "std" : "cld", 0, 0);
        int count = rnd.nextInt(4) == 0 ? 0 : rnd.nextInt(40);
        int span = 40 * 8;
        long src = b.layout.data() + span + rnd.nextInt(Layout.DATA_SIZE - 2 * span);
        long dst = b.layout.data() + span + rnd.nextInt(Layout.DATA_SIZE - 2 * span);
        if (rnd.nextBoolean()) {
            // repeat the source at the destination with one difference, so REPE CMPS runs for a while
            int from = (int) (src - b.layout.data()) - (down ? span - 8 : 0);
            int to = (int) (dst - b.layout.data()) - (down ? span - 8 : 0);
            System.arraycopy(b.initial.data, from, b.initial.data, to, span);
            b.initial.data[to + rnd.nextInt(span)] ^= (byte) (1 + rnd.nextInt(255));
        }
        long junk = addr32 ? rnd.nextLong() << 32 : 0;
        b.load(6, src | junk);
        b.load(7, dst | (addr32 ? rnd.nextLong() << 32 : 0));
        b.load(1, count | (addr32 ? rnd.nextLong() << 32 : 0));
        int kind = rnd.nextInt(5);
        int base = new int[] {0xA4, 0xAA, 0xAC, 0xA6, 0xAE}[kind];
        String name = new String[] {"movs", "stos", "lods", "cmps", "scas"}[kind] + SUFFIX[log];
        if (kind == 4 && rnd.nextBoolean()) {
            // SCAS: let AL..RAX match the pattern at RDI so REPNE stops inside the run
            long v = b.initial.data[(int) (dst - b.layout.data())] & 0xFF;
            b.load(0, v * 0x0101_0101_0101_0101L);
        }
        int rep = switch (rnd.nextInt(3)) {
            case 0 -> 0;
            case 1 -> 0xF3;
            default -> kind >= 3 ? 0xF2 : 0xF3;
        };
        int[] bytes = Emit.concat(rep != 0 ? new int[] {rep} : new int[0], addr32 ? new int[] {0x67} : new int[0],
                size == 2 ? new int[] {0x66} : new int[0],
                size == 8 ? new int[] {0x48} : new int[0], new int[] {base + (size == 1 ? 0 : 1)});
        String prefix = (addr32 ? "addr32 " : "") + (rep == 0 ? "" : rep == 0xF2 ? "repne " : kind >= 3 ? "repe " : "rep ");
        boolean compares = kind >= 3;
        b.insn(Encoder.plain(bytes, 0, 0), prefix + name + " (rcx=" + count + ")", compares ? STATUS : 0, 0);
    }

    /**
     * Balanced control transfers through the stack: {@code call sub; jmp over; sub: ...; ret [imm16]} and
     * {@code enter n, 0; ...; leave}.
     */
    private static void callOrFrame(SequenceBuilder b, int[] depth) {
        Random rnd = b.rnd;
        if (rnd.nextBoolean() || b.isReserved(5)) {
            int extra = rnd.nextInt(3) == 0 ? 8 * rnd.nextInt(3) : 0;    // RET imm16 pops extra bytes
            if (depth[0] - extra < -STACK_REACH) {
                extra = 0;
            }
            b.insn(new byte[] {(byte) 0xE8, 2, 0, 0, 0}, "call sub (over the jmp)", 0, 0);
            int jmpAt = b.size();
            b.insn(new byte[] {(byte) 0xEB, 0}, "jmp over sub", 0, 0);
            int subStart = b.size();
            b.restricted(CpuState.RSP, true, () -> ArithmeticGroups.alu(b));
            if (extra != 0) {
                b.insn(new byte[] {(byte) 0xC2, (byte) extra, 0}, "ret " + extra, 0, 0);
            } else {
                b.insn(new byte[] {(byte) 0xC3}, "ret", 0, 0);
            }
            b.patch(jmpAt + 1, (byte) (b.size() - subStart));
            depth[0] -= extra;
        } else {
            int frame = 8 * rnd.nextInt(8);
            if (depth[0] + 8 + frame > STACK_REACH) {
                frame = 0;
            }
            b.insn(new byte[] {(byte) 0xC8, (byte) frame, 0, 0}, "enter " + frame + ", 0", 0, 0);
            b.restricted(5, true, () -> ArithmeticGroups.alu(b));     // RBP holds the frame LEAVE unwinds
            b.insn(new byte[] {(byte) 0xC9}, "leave", 0, 0);
        }
    }

    /** PUSH/POP of registers, immediates, memory and flags, CALL to the next instruction; the stack is in the data page. */
    static void stack(SequenceBuilder b, int[] depth) {
        Random rnd = b.rnd;
        boolean canPush = depth[0] < STACK_REACH;
        boolean canPop = depth[0] > -STACK_REACH;
        boolean push = canPush && (!canPop || rnd.nextBoolean());
        boolean word = rnd.nextInt(5) == 0;
        int size = word ? 2 : 8;
        int[] p66 = word ? new int[] {0x66} : new int[0];
        if (rnd.nextInt(6) == 0) {
            callOrFrame(b, depth);
            return;
        }
        if (push) {
            switch (rnd.nextInt(6)) {
                case 0, 1 -> {
                    Reg r = Reg.of(rnd.nextInt(16), 8);
                    b.insn(Encoder.opReg(p66, false, new int[] {0x50}, r, 0, 0), "push " + Reg.of(r.num(), size), 0, 0);
                }
                case 2 -> {
                    boolean imm8 = rnd.nextBoolean();
                    int n = imm8 ? 1 : word ? 2 : 4;
                    long imm = Values.imm(rnd, n);
                    b.insn(Encoder.plain(Emit.concat(p66, new int[] {imm8 ? 0x6A : 0x68}), imm, n),
                            (word ? "pushw 0x" : "push 0x") + Long.toHexString(imm), 0, 0);
                }
                case 3 -> {
                    Mem m = b.mem(size, false);
                    b.insn(Encoder.modrm(b.pc(), p66, false, new int[] {0xFF}, 6, null, m, 0, 0), "push " + m, 0, 0);
                }
                case 4 -> {
                    // PUSHFQ stores every status flag, so all of them must be defined
                    b.needFlags(STATUS);
                    b.insn(Encoder.plain(Emit.concat(p66, new int[] {0x9C}), 0, 0), word ? "pushfw" : "pushfq", 0, 0);
                }
                default -> {
                    size = 8;
                    b.insn(new byte[] {(byte) 0xE8, 0, 0, 0, 0}, "call +0 (pushes the address of the next instruction)", 0, 0);
                }
            }
            depth[0] += size;
        } else {
            switch (rnd.nextInt(4)) {
                case 0, 1 -> {
                    Reg r = b.dest(8, false);
                    b.insn(Encoder.opReg(p66, false, new int[] {0x58}, r, 0, 0), "pop " + Reg.of(r.num(), size), 0, 0);
                }
                case 2 -> {
                    Mem m = b.mem(size, false);
                    b.insn(Encoder.modrm(b.pc(), p66, false, new int[] {0x8F}, 0, null, m, 0, 0), "pop " + m, 0, 0);
                }
                default -> {
                    // POPFQ of a value we control: only status flags and DF, never TF or AC (those would trap)
                    long flags = Flags.FIXED | (rnd.nextLong() & (STATUS | Flags.DF));
                    b.setup(Encoder.plain(Emit.concat(p66, new int[] {0x68}), flags, word ? 2 : 4), "push 0x" + Long.toHexString(flags));
                    b.insn(Encoder.plain(Emit.concat(p66, new int[] {0x9D}), 0, 0), word ? "popfw" : "popfq", STATUS, 0);
                    return;                                        // pushed and popped: depth unchanged
                }
            }
            depth[0] -= size;
        }
    }
}
