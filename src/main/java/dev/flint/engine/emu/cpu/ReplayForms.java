package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.mmu.Mmu;

import static dev.flint.engine.emu.cpu.CpuState.FS;
import static dev.flint.engine.emu.cpu.CpuState.SS;

/**
 * The replay tier's own copy of a block's commonest {@link FastPath} forms, packed: four longs per
 * instruction in one array per block ({@link #pack}), so that replaying a block walks one contiguous
 * array instead of a {@link DecodedInsn} object per instruction (~190 bytes each, the operands a form reads
 * spread over three cache lines by the JVM's field order). On the kernel's path, where thousands of lukewarm
 * blocks do not stay in the host caches, that is the difference between one or two cache lines per block
 * and three per instruction.
 *
 * <p>Per instruction: word 0 the form and its operands ({@code OPS}: form, ALU operation or condition,
 * size, registers, the ModRM address's base/index/scale, an FS/GS base, the instruction's length, whether
 * it may store), word 1 the fall-through RIP, word 2 the immediate or branch target, word 3 the displacement.
 * A form number of 0 means "not packed": the replay runs that instruction from its {@link DecodedInsn}
 * (through {@link FastPath#run} or the general handler), as before. Each packed form does exactly what the
 * {@link FastPath} form of the same number does, fault order included (the differential test compares
 * replays with the host CPU).
 */
final class ReplayForms {
    /** Longs per instruction in a packed block. */
    static final int WORDS = 4;
    // Fields of word 0.
    private static final int OP_SHIFT = 8, SIZE_SHIFT = 16, DST_SHIFT = 20, SRC_SHIFT = 24, BASE_SHIFT = 28,
            INDEX_SHIFT = 33, SCALE_SHIFT = 38, SEG_SHIFT = 40, LEN_SHIFT = 44;
    /** No base or index register (a 5-bit field: registers are 0..15). */
    private static final int NO_REG = 16;
    private static final long SS_FAULT = 1L << 43;
    /** Set for the forms that may store to memory: only after those may a store have rewritten the block. */
    static final long STORES = 1L << 48;

    private final CpuState s;
    private final long[] r;
    private final Flags flags;
    private final Mmu mmu;
    private final Stack stack;

    ReplayForms(CpuState s, Mmu mmu, Stack stack) {
        this.s = s;
        this.r = s.gpr;
        this.flags = s.flags;
        this.mmu = mmu;
        this.stack = stack;
    }

    /** The packed words of {@code insns} (classified already), 0 as the form of those not packed here. */
    static long[] pack(DecodedInsn[] insns) {
        long[] p = new long[insns.length * WORDS];
        for (int i = 0; i < insns.length; i++) {
            DecodedInsn d = insns[i];
            int form = packed(d.fast) ? d.fast : FastPath.NONE;
            boolean stores = switch (form) {
                case FastPath.MOV_STORE, FastPath.MOV_STORE_IMM, FastPath.ALU_STORE, FastPath.ALU_STORE_IMM,
                     FastPath.SETCC_STORE, FastPath.PUSH, FastPath.CALL -> true;
                default -> false;
            };
            int base = d.base >= 0 ? d.base : NO_REG, index = d.index >= 0 ? d.index : NO_REG;
            int seg = d.seg >= FS ? d.seg - FS + 1 : 0; // only FS and GS have a base in 64-bit mode
            p[i * WORDS] = form | (long) (d.fastOp & 0xFF) << OP_SHIFT | (long) (d.size & 15) << SIZE_SHIFT
                    | (long) (d.dst & 15) << DST_SHIFT | (long) (d.src & 15) << SRC_SHIFT
                    | (long) base << BASE_SHIFT | (long) index << INDEX_SHIFT | (long) (d.scale & 3) << SCALE_SHIFT
                    | (long) seg << SEG_SHIFT | (d.eaSeg == SS ? SS_FAULT : 0) | (long) (d.length & 15) << LEN_SHIFT
                    | (stores ? STORES : 0);
            p[i * WORDS + 1] = d.endIp;
            p[i * WORDS + 2] = d.imm;
            p[i * WORDS + 3] = d.disp;
        }
        return p;
    }

    /** The forms run from packed words (the others are rarer in replayed code and keep their {@link DecodedInsn}). */
    private static boolean packed(int form) {
        return switch (form) {
            case FastPath.MOV_RR, FastPath.MOV_LOAD, FastPath.MOV_STORE, FastPath.MOV_RI, FastPath.MOV_STORE_IMM,
                 FastPath.ALU_RR, FastPath.ALU_RI, FastPath.ALU_LOAD, FastPath.ALU_STORE, FastPath.ALU_STORE_IMM,
                 FastPath.TEST_RR, FastPath.TEST_LOAD, FastPath.TEST_RI, FastPath.TEST_LOAD_IMM, FastPath.TEST8_RR,
                 FastPath.TEST8_LOAD, FastPath.LEA, FastPath.MOVZX_LOAD, FastPath.MOVZX_RR, FastPath.MOVSXD,
                 FastPath.INCDEC, FastPath.CMOV_RR, FastPath.CMOV_LOAD, FastPath.SETCC_R, FastPath.SETCC_STORE,
                 FastPath.NOP, FastPath.PUSH, FastPath.POP, FastPath.ALU8_RI, FastPath.ALU8_RR, FastPath.ALU8_LOAD,
                 FastPath.JCC, FastPath.JMP, FastPath.CALL, FastPath.RET -> true;
            default -> false;
        };
    }

    /** The RIP the instruction at {@code at} started at (its fall-through RIP less its length). */
    static long startOf(long[] p, int at) {
        return p[at + 1] - ((p[at] >>> LEN_SHIFT) & 15);
    }

    /** Runs the packed instruction at {@code at} (its form not 0) and returns the RIP after it. */
    long run(long[] p, int at) {
        long w = p[at];
        long end = p[at + 1];
        int z = (int) (w >>> SIZE_SHIFT) & 15, dst = (int) (w >>> DST_SHIFT) & 15, src = (int) (w >>> SRC_SHIFT) & 15;
        int op = (int) (w >>> OP_SHIFT) & 0xFF;
        switch ((int) w & 0xFF) {
            case FastPath.MOV_RR -> set(dst, z, get(src, z));
            case FastPath.MOV_LOAD -> set(dst, z, load(address(w, p[at + 3]), z));
            case FastPath.MOV_STORE -> store(address(w, p[at + 3]), z, get(src, z));
            case FastPath.MOV_RI -> set(dst, z, p[at + 2]);
            case FastPath.MOV_STORE_IMM -> store(address(w, p[at + 3]), z, p[at + 2]);
            case FastPath.ALU_RR -> alu(op, z, dst, get(src, z));
            case FastPath.ALU_RI -> alu(op, z, dst, p[at + 2]);
            case FastPath.ALU_LOAD -> alu(op, z, dst, load(address(w, p[at + 3]), z));
            case FastPath.ALU_STORE -> aluToMemory(op, z, address(w, p[at + 3]), get(src, z));
            case FastPath.ALU_STORE_IMM -> aluToMemory(op, z, address(w, p[at + 3]), p[at + 2]);
            case FastPath.TEST_RR -> Alu.alu(flags, 4, z, get(dst, z), get(src, z));
            case FastPath.TEST_LOAD -> Alu.alu(flags, 4, z, load(address(w, p[at + 3]), z), get(src, z));
            case FastPath.TEST_RI -> Alu.alu(flags, 4, z, get(dst, z), p[at + 2]);
            case FastPath.TEST_LOAD_IMM -> Alu.alu(flags, 4, z, load(address(w, p[at + 3]), z), p[at + 2]);
            case FastPath.TEST8_RR -> Alu.alu(flags, 4, 1, r[dst] & 0xFF, r[src] & 0xFF);
            case FastPath.TEST8_LOAD -> Alu.alu(flags, 4, 1, load(address(w, p[at + 3]), 1), r[src] & 0xFF);
            case FastPath.LEA -> set(dst, z, offset(w, p[at + 3]));
            case FastPath.MOVZX_LOAD -> set(dst, z, load(address(w, p[at + 3]), op));
            case FastPath.MOVZX_RR -> set(dst, z, get(src, op));
            case FastPath.MOVSXD -> r[dst] = (int) r[src];
            case FastPath.INCDEC -> set(dst, z, Alu.incDec(flags, op == 0, z, get(dst, z)));
            case FastPath.CMOV_RR -> cmov(op, z, dst, get(src, z));
            case FastPath.CMOV_LOAD -> cmov(op, z, dst, load(address(w, p[at + 3]), z));
            case FastPath.SETCC_R -> r[dst] = (r[dst] & ~0xFFL) | (flags.cond(op) ? 1 : 0);
            case FastPath.SETCC_STORE -> store(address(w, p[at + 3]), 1, flags.cond(op) ? 1 : 0);
            case FastPath.NOP -> { }
            case FastPath.PUSH -> stack.push64(r[src]);
            case FastPath.POP -> r[dst] = stack.pop64();
            case FastPath.ALU8_RI -> alu8(op, dst, p[at + 2]);
            case FastPath.ALU8_RR -> alu8(op, dst, r[src] & 0xFF);
            case FastPath.ALU8_LOAD -> alu8(op, dst, load(address(w, p[at + 3]), 1));
            case FastPath.JCC -> { if (flags.cond(op)) return p[at + 2]; }
            case FastPath.JMP -> { return p[at + 2]; }
            case FastPath.CALL -> {
                stack.push64(end);
                return p[at + 2];
            }
            case FastPath.RET -> { return stack.pop64(); }
            default -> throw new IllegalStateException("packed form " + (w & 0xFF));
        }
        return end;
    }

    private void alu(int op, int z, int dst, long source) {
        long v = Alu.alu(flags, op, z, get(dst, z), source);
        if (op != 7) set(dst, z, v);
    }

    private void alu8(int op, int dst, long source) {
        long v = Alu.alu(flags, op, 1, r[dst] & 0xFF, source);
        if (op != 7) r[dst] = (r[dst] & ~0xFFL) | v;
    }

    private void aluToMemory(int op, int z, long lin, long source) {
        long v = Alu.alu(flags, op, z, load(lin, z), source);
        if (op != 7) store(lin, z, v);
    }

    private void cmov(int cond, int z, int dst, long v) {
        if (flags.cond(cond)) set(dst, z, v);
        else if (z == 4) r[dst] &= 0xFFFF_FFFFL; // a 32-bit CMOV zero-extends either way
    }

    // The sized accessors: small enough for C2 to inline (the general read/write are not), and right for a
    // canonical address, which address() guarantees.
    private long load(long lin, int z) {
        return switch (z) {
            case 8 -> mmu.read8(lin);
            case 4 -> mmu.read4(lin);
            case 2 -> mmu.read2(lin);
            default -> mmu.read1(lin);
        };
    }

    private void store(long lin, int z, long v) {
        switch (z) {
            case 8 -> mmu.write8(lin, v);
            case 4 -> mmu.write4(lin, v);
            case 2 -> mmu.write2(lin, v);
            default -> mmu.write1(lin, v);
        }
    }

    private long get(int n, int z) {
        return switch (z) {
            case 8 -> r[n];
            case 4 -> r[n] & 0xFFFF_FFFFL;
            case 2 -> r[n] & 0xFFFF;
            default -> r[n] & 0xFF; // byte registers only where REX or the encoding rules out AH..BH
        };
    }

    /** Writes a 32- or 64-bit register (32-bit writes zero the upper half, as in 64-bit mode). */
    private void set(int n, int z, long v) { r[n] = z == 8 ? v : v & 0xFFFF_FFFFL; }

    private long offset(long w, long disp) {
        long off = disp;
        int base = (int) (w >>> BASE_SHIFT) & 31, index = (int) (w >>> INDEX_SHIFT) & 31;
        if (base != NO_REG) off += r[base];
        if (index != NO_REG) off += r[index] << ((w >>> SCALE_SHIFT) & 3);
        return off;
    }

    /** The linear address if canonical, else the fault a non-canonical one raises (#SS on the stack). */
    private long address(long w, long disp) {
        long lin = offset(w, disp);
        int seg = (int) (w >>> SEG_SHIFT) & 7;
        if (seg != 0) lin += s.segBase[FS + seg - 1];
        if (((lin << 16) >> 16) != lin) throw GuestFault.of((w & SS_FAULT) != 0 ? GuestFault.SS : GuestFault.GP, 0);
        return lin;
    }
}
