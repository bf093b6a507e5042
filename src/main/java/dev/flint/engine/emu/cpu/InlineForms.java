package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.mmu.Mmu;

import java.lang.classfile.CodeBuilder;
import java.lang.classfile.Label;
import java.lang.constant.ClassDesc;
import java.lang.constant.MethodTypeDesc;

import static java.lang.constant.ConstantDescs.CD_boolean;
import static java.lang.constant.ConstantDescs.CD_int;
import static java.lang.constant.ConstantDescs.CD_long;
import static java.lang.constant.ConstantDescs.CD_void;

/**
 * Bytecode for the commonest {@link FastPath} forms with their operands as constants, for
 * {@link BlockCompiler}. Calling the form's method with its {@link DecodedInsn} makes the JIT load each
 * operand and branch on size and operation per instruction, and the inlined bodies of a long block
 * overflow C2's inlining budget, so the block's tail ends up in real calls. Here each instruction becomes
 * arithmetic on JVM locals that hold the guest registers for the whole block (loaded at entry, stored
 * back before calls, exits and in the exception handler), and its flags a single {@link Flags#set}.
 *
 * <p>The compiler drops a flag update that a later instruction of the block overwrites before anything
 * can read it or a fault can show it to the guest ({@code flagsDead}, see
 * {@link BlockCompiler#flagsDeadAfter}).
 * Semantics are exactly the FastPath methods'; the emu rig's replay passes compare the two.
 */
final class InlineForms {
    /**
     * Local variable slots of the compiled run method (0..3 are this, the FastPath, the insns and the
     * budget).
     */
    static final int REGS = 4, FLAGS = 5, CPU = 6, A = 7, B = 9, RES = 11, MMU = 13, INDEX = 14;
    /** Guest register n lives in local slot {@code GPR + 2n} while the block runs (see {@link #uses}). */
    private static final int GPR = 15;
    /**
     * A flag update left pending (see {@link #pendingFlags}): its kind | size << 8 (0: none pending), and
     * its operands and result, which only the exception handler and the block's ways out turn into flags.
     */
    static final int PENDING_KIND = 49, PENDING_A = 50, PENDING_B = 52, PENDING_RES = 54;

    private static final ClassDesc FAST = ClassDesc.of(FastPath.class.getName());
    private static final ClassDesc FLAGS_CLASS = ClassDesc.of(Flags.class.getName());
    private static final ClassDesc CPU_CLASS = ClassDesc.of(Cpu.class.getName());
    private static final ClassDesc ALU_CLASS = ClassDesc.of(Alu.class.getName());
    private static final ClassDesc MMU_CLASS = ClassDesc.of(Mmu.class.getName());
    /** Mmu.readN(lin, fault) / writeN(lin, value, fault): canonicality is checked on a TLB miss only. */
    private static final MethodTypeDesc READ = MethodTypeDesc.of(CD_long, CD_long, CD_int);
    private static final MethodTypeDesc WRITE = MethodTypeDesc.of(CD_void, CD_long, CD_long, CD_int);
    private static final MethodTypeDesc SEGMENT_BASE = MethodTypeDesc.of(CD_long, CD_int);
    private static final ClassDesc LONGS = CD_long.arrayType();
    private static final MethodTypeDesc FLAGS_SET = MethodTypeDesc.of(CD_void, CD_int, CD_int, CD_long, CD_long, CD_long);
    private static final MethodTypeDesc SET_INC_DEC = MethodTypeDesc.of(CD_void, CD_boolean, CD_int, CD_long, CD_long);
    private static final MethodTypeDesc COND = MethodTypeDesc.of(CD_boolean, CD_int);
    private static final MethodTypeDesc MUL_FLAGS = MethodTypeDesc.of(CD_void, FLAGS_CLASS, CD_int, CD_long, CD_boolean);
    private static final MethodTypeDesc MULTIPLY_HIGH = MethodTypeDesc.of(CD_long, CD_long, CD_long);
    private static final MethodTypeDesc ROTATE_FLAGS = MethodTypeDesc.of(CD_void, CD_boolean, CD_int, CD_long);
    private static final ClassDesc LONG = ClassDesc.of("java.lang.Long"), INTEGER = ClassDesc.of("java.lang.Integer");
    private static final MethodTypeDesc ROTATE_LONG = MethodTypeDesc.of(CD_long, CD_long, CD_int);
    private static final MethodTypeDesc ROTATE_INT = MethodTypeDesc.of(CD_int, CD_int, CD_int);
    private static final long LOW32 = 0xFFFF_FFFFL;

    private final CodeBuilder code;
    /** The guest registers held in locals (any the block's inlined instructions touch). */
    private final boolean[] local;
    /** Of those, the ones written since they were last stored back to the register array. */
    private final boolean[] dirty = new boolean[16];
    /** Set by the compiler before {@link #emit}: this instruction's flag update may be left pending. */
    private boolean pendingNext;
    /** A pending flag update is in the PENDING_ locals now (at this point of the emitted code): its kind and size. */
    private int pendingKind = -1, pendingSize;

    InlineForms(CodeBuilder code, boolean[] local) {
        this.code = code;
        this.local = local;
    }

    /**
     * The registers an inlined instruction reads or writes, marked in {@code used}: the block keeps
     * them in JVM locals, so the JIT can hold them in host registers across the whole block.
     */
    static void uses(DecodedInsn d, boolean[] used) {
        if (d.fast == FastPath.MOV_STORE_IMM || d.fast == FastPath.MOV_LOAD || d.fast == FastPath.MOV_STORE
                || d.fast == FastPath.LEA || d.fast == FastPath.ALU_LOAD || d.fast == FastPath.MOVZX_LOAD
                || d.fast == FastPath.MOVSXD_LOAD || d.fast == FastPath.TEST_LOAD || d.fast == FastPath.TEST_LOAD_IMM) {
            if (d.base >= 0) used[d.base] = true;
            if (d.index >= 0) used[d.index] = true;
        }
        if (d.fast == FastPath.PUSH || d.fast == FastPath.POP) used[CpuState.RSP] = true;
        used[d.dst] = true;
        used[d.src] = true;
    }

    /**
     * Loads the register array, flags, CPU, MMU and the block's registers into their slots: the
     * prologue of every compiled block.
     */
    void prologue() {
        code.aload(1).getfield(FAST, "r", LONGS).astore(REGS);
        code.aload(1).getfield(FAST, "flags", FLAGS_CLASS).astore(FLAGS);
        code.aload(1).getfield(FAST, "cpu", CPU_CLASS).astore(CPU);
        code.aload(1).getfield(FAST, "mmu", MMU_CLASS).astore(MMU);
        code.iconst_0().istore(INDEX);
        code.iconst_0().istore(PENDING_KIND);
        code.lconst_0().lstore(PENDING_A).lconst_0().lstore(PENDING_B).lconst_0().lstore(PENDING_RES);
        for (int n = 0; n < 16; n++) {
            if (local[n]) code.aload(REGS).loadConstant(n).laload().lstore(GPR + 2 * n);
        }
    }

    /**
     * Whether the next instruction's flag update may be left pending: all its flags are replaced by a later
     * instruction before anything reads them or the block ends, and only a fault in between (a guest
     * memory access) would show them. Its operands and result then stay in JVM locals, and the exception
     * handler ({@link #pendingToFlagsIfAny}) and any way out of the block ({@link #pendingToFlags}) record
     * them, instead of every such update storing five fields of the flags object.
     */
    void pendingFlags(boolean pending) {
        pendingNext = pending;
    }

    /** At a member's head (a join): nothing is pending there, as every path to it ends with flags recorded. */
    void noPendingFlags() {
        pendingKind = -1;
    }

    /** On a way out: records the pending flag update (the path going on keeps it pending). */
    void pendingToFlags() {
        if (pendingKind < 0) return;
        code.aload(FLAGS).loadConstant(pendingKind).loadConstant(pendingSize).lload(PENDING_A).lload(PENDING_B)
                .lload(PENDING_RES).invokevirtual(FLAGS_CLASS, "set", FLAGS_SET);
    }

    /** In the exception handler, which all points share: records the pending flag update, if one is. */
    void pendingToFlagsIfAny() {
        Label none = code.newLabel();
        code.iload(PENDING_KIND).ifeq(none);
        code.aload(FLAGS).iload(PENDING_KIND).loadConstant(0xFF).iand().iload(PENDING_KIND).loadConstant(8).iushr()
                .lload(PENDING_A).lload(PENDING_B).lload(PENDING_RES).invokevirtual(FLAGS_CLASS, "set", FLAGS_SET);
        code.labelBinding(none);
    }

    /** The flags object is about to be read: the analysis leaves nothing pending before a reader. */
    private void readingFlags() {
        if (pendingKind >= 0) throw new IllegalStateException("flags read while an update is pending");
    }

    /** After the flags object was updated: a pending update older than it must not reach the handler. */
    private void closePending() {
        if (pendingKind < 0) return;
        code.iconst_0().istore(PENDING_KIND);
        pendingKind = -1;
    }

    /** Stores the registers written since the last flush back to the array (before a call or an exit). */
    void flush() {
        // a call reads the flags: the analysis never leaves an update pending across one, but be safe
        if (pendingKind >= 0) {
            pendingToFlags();
            closePending();
        }
        storeDirty();
        java.util.Arrays.fill(dirty, false);
    }

    /**
     * Treats every local register as written: at the head of a block that loops back to its own start,
     * where registers written by the previous pass are still only in their locals.
     */
    void allDirty() {
        System.arraycopy(local, 0, dirty, 0, 16);
    }

    /** The stores of {@link #flush} on a path that leaves the block (the path going on still has them dirty). */
    void storeDirty() {
        for (int n = 0; n < 16; n++) {
            if (dirty[n]) code.aload(REGS).loadConstant(n).lload(GPR + 2 * n).lastore();
        }
    }

    /** Reloads the local registers after a call that may have written the array. */
    void reload() {
        for (int n = 0; n < 16; n++) {
            if (local[n]) code.aload(REGS).loadConstant(n).laload().lstore(GPR + 2 * n);
        }
    }

    /** Stores every local register back to the array: the exception handler, whatever is dirty there. */
    void storeAll() {
        for (int n = 0; n < 16; n++) {
            if (local[n]) code.aload(REGS).loadConstant(n).lload(GPR + 2 * n).lastore();
        }
    }

    /** True if {@link #emit} handles this instruction. */
    static boolean handles(DecodedInsn d) {
        return switch (d.fast) {
            case FastPath.MOV_RR, FastPath.MOV_RI, FastPath.LEA, FastPath.MOVSXD, FastPath.MOVZX_RR, FastPath.NOP,
                 FastPath.TEST_RR, FastPath.TEST_RI, FastPath.NEG, FastPath.IMUL_RR, FastPath.CMOV_RR, FastPath.SETCC_R,
                 FastPath.INCDEC, FastPath.MOV_LOAD, FastPath.MOV_STORE, FastPath.MOV_STORE_IMM, FastPath.MOVZX_LOAD,
                 FastPath.MOVSXD_LOAD, FastPath.TEST_LOAD, FastPath.TEST_LOAD_IMM, FastPath.NOT, FastPath.BSWAP,
                 FastPath.PUSH, FastPath.POP -> true;
            case FastPath.ALU_RR, FastPath.ALU_RI, FastPath.ALU_LOAD -> d.fastOp != 2 && d.fastOp != 3; // not ADC/SBB
            case FastPath.SHIFT_RI -> true;
            default -> false;
        };
    }

    /**
     * True if the instruction, when {@link #handles handled}, reads the arithmetic flags; {@code flagsDead}
     * as for {@link #emit}.
     */
    static boolean readsFlags(DecodedInsn d, boolean flagsDead) {
        return switch (d.fast) {
            case FastPath.CMOV_RR, FastPath.SETCC_R -> true;
            case FastPath.INCDEC -> !flagsDead; // INC/DEC keep CF, unless all their flags are dead anyway
            // A rotation changes CF and OF only, so it merges them into the flags so far - unless later
            // instructions overwrite all of them anyway, and then it does nothing with flags at all.
            case FastPath.SHIFT_RI -> isRotate(d.fastOp) && !flagsDead && (d.imm & shiftMask(d.size)) != 0;
            default -> false;
        };
    }

    /** True if the instruction, when {@link #handles handled}, replaces all arithmetic flags. */
    static boolean writesAllFlags(DecodedInsn d) {
        return switch (d.fast) {
            case FastPath.ALU_RR, FastPath.ALU_RI, FastPath.ALU_LOAD, FastPath.TEST_RR, FastPath.TEST_RI,
                 FastPath.TEST_LOAD, FastPath.TEST_LOAD_IMM, FastPath.NEG, FastPath.IMUL_RR -> true;
            case FastPath.SHIFT_RI -> !isRotate(d.fastOp) && (d.imm & shiftMask(d.size)) != 0; // count 0: none
            default -> false;
        };
    }

    /**
     * Emits the instruction's effect on registers and flags. {@code flagsDead}: a later instruction of the
     * block replaces every arithmetic flag before any can be read, so this one need not record its own.
     */
    void emit(DecodedInsn d, boolean flagsDead) {
        try {
            emitForm(d, flagsDead);
        } finally {
            pendingNext = false;
        }
    }

    private void emitForm(DecodedInsn d, boolean flagsDead) {
        int z = d.size;
        switch (d.fast) {
            case FastPath.NOP -> { }
            case FastPath.MOV_RR -> store(d.dst, z, () -> load(d.src, z));
            case FastPath.MOV_RI -> store(d.dst, z, () -> code.loadConstant(d.imm));
            case FastPath.LEA -> store(d.dst, z, () -> effectiveAddress(d));
            case FastPath.MOVSXD -> store(d.dst, 8, () -> code.lload(GPR + 2 * d.src).l2i().i2l());
            case FastPath.NOT -> store(d.dst, z, () -> { load(d.dst, z); code.loadConstant(-1L).lxor(); });
            case FastPath.BSWAP -> store(d.dst, z, () -> {
                if (z == 8) {
                    code.lload(GPR + 2 * d.dst).invokestatic(LONG, "reverseBytes", MethodTypeDesc.of(CD_long, CD_long));
                } else {
                    code.lload(GPR + 2 * d.dst).l2i().invokestatic(INTEGER, "reverseBytes", MethodTypeDesc.of(CD_int, CD_int))
                            .i2l();
                }
            });
            case FastPath.MOVZX_RR -> store(d.dst, z, () -> load(d.src, d.fastOp));
            case FastPath.ALU_RR, FastPath.ALU_RI, FastPath.ALU_LOAD, FastPath.TEST_RR, FastPath.TEST_RI,
                 FastPath.TEST_LOAD, FastPath.TEST_LOAD_IMM -> alu(d, flagsDead);
            case FastPath.MOV_LOAD -> store(d.dst, z, () -> read(d, z));
            case FastPath.MOVZX_LOAD -> store(d.dst, z, () -> read(d, d.fastOp));
            case FastPath.MOVSXD_LOAD -> store(d.dst, 8, () -> { read(d, 4); code.l2i().i2l(); });
            case FastPath.MOV_STORE, FastPath.MOV_STORE_IMM -> {
                // mmu.writeZ(address, value, fault): the fixed-size form, small enough for C2 to inline
                code.aload(MMU);
                address(d);
                if (d.fast == FastPath.MOV_STORE) load(d.src, z);
                else code.loadConstant(d.imm);
                code.loadConstant(canonicalFault(d.eaSeg)).invokevirtual(MMU_CLASS, "write" + z, WRITE);
            }
            case FastPath.PUSH -> push(d);
            case FastPath.POP -> pop(d);
            case FastPath.NEG -> neg(d, flagsDead);
            case FastPath.SHIFT_RI -> shift(d, flagsDead);
            case FastPath.IMUL_RR -> imul(d, flagsDead);
            case FastPath.INCDEC -> incDec(d, flagsDead);
            case FastPath.CMOV_RR -> cmov(d);
            case FastPath.SETCC_R -> {
                // r[dst] = r[dst] & ~0xFF | (cond ? 1 : 0)
                store(d.dst, 8, () -> {
                    code.lload(GPR + 2 * d.dst).loadConstant(~0xFFL).land();
                    condition(d.fastOp);
                    code.i2l().lor();
                });
            }
            default -> throw new IllegalArgumentException("form " + d.fast + " is not inlined");
        }
    }

    /** ADD/OR/AND/SUB/XOR/CMP with a register or immediate source, and TEST: a, b and the result in slots. */
    private void alu(DecodedInsn d, boolean flagsDead) {
        int z = d.size;
        int form = d.fast;
        boolean test = form == FastPath.TEST_RR || form == FastPath.TEST_RI || form == FastPath.TEST_LOAD
                || form == FastPath.TEST_LOAD_IMM;
        int op = test ? 4 : d.fastOp;
        // The operands in FastPath's order: memory first for TEST, the register first for ALU loads.
        if (form == FastPath.TEST_LOAD || form == FastPath.TEST_LOAD_IMM) read(d, z);
        else load(d.dst, z);
        code.lstore(A);
        switch (form) {
            case FastPath.ALU_RI, FastPath.TEST_RI, FastPath.TEST_LOAD_IMM -> code.loadConstant(d.imm);
            case FastPath.ALU_LOAD -> read(d, z);
            default -> load(d.src, z);
        }
        code.lstore(B);
        code.lload(A).lload(B);
        int kind = switch (op) {
            case 0 -> { code.ladd(); yield Flags.ADD; }
            case 1 -> { code.lor(); yield Flags.LOGIC; }
            case 4 -> { code.land(); yield Flags.LOGIC; }
            case 5, 7 -> { code.lsub(); yield Flags.SUB; }
            case 6 -> { code.lxor(); yield Flags.LOGIC; }
            default -> throw new IllegalArgumentException("ALU operation " + op);
        };
        code.lstore(RES);
        if (!flagsDead) setFlags(kind, z, RES);
        if (op != 7 && !test) store(d.dst, z, () -> code.lload(RES));
    }

    /** Pushes mmu.readN(address, fault) for size N: the fixed-size form, small enough for C2 to inline. */
    private void read(DecodedInsn d, int size) {
        code.aload(MMU);
        address(d);
        code.loadConstant(canonicalFault(d.eaSeg)).invokevirtual(MMU_CLASS, "read" + size, READ);
    }

    /**
     * Pushes the linear address of the memory operand: offset, FS/GS base. Its canonical check is the
     * MMU accessor's, on a TLB miss only (a hit implies a canonical address).
     */
    private void address(DecodedInsn d) {
        effectiveAddress(d);
        if (d.seg >= CpuState.FS) code.aload(1).loadConstant(d.seg).invokevirtual(FAST, "segmentBase", SEGMENT_BASE).ladd();
    }

    /** The fault a non-canonical address raises: #SS for a stack-segment operand, else #GP (FastPath#canonical). */
    private static int canonicalFault(int eaSeg) {
        return eaSeg == CpuState.SS ? GuestFault.SS : GuestFault.GP;
    }

    /**
     * PUSH r64 (Stack#push64): the store at RSP - 8 (#SS if not canonical), then RSP moves, so a faulting
     * store leaves RSP as it was; PUSH RSP stores the old value. Inlined rather than called because a call
     * stores every written register back to the array and reloads them all after it, and kernel code
     * pushes and pops in runs.
     */
    private void push(DecodedInsn d) {
        int sp = GPR + 2 * CpuState.RSP;
        code.lload(sp).loadConstant(8L).lsub().lstore(A);
        code.aload(MMU).lload(A);
        load(d.src, 8);
        code.loadConstant(GuestFault.SS).invokevirtual(MMU_CLASS, "write8", WRITE);
        code.lload(A).lstore(sp);
        dirty[CpuState.RSP] = true;
    }

    /** POP r64 (Stack#pop64): the load at RSP, then RSP + 8, then the register, so POP RSP gets the value. */
    private void pop(DecodedInsn d) {
        int sp = GPR + 2 * CpuState.RSP;
        code.aload(MMU).lload(sp).loadConstant(GuestFault.SS).invokevirtual(MMU_CLASS, "read8", READ).lstore(A);
        code.lload(sp).loadConstant(8L).ladd().lstore(sp);
        dirty[CpuState.RSP] = true;
        store(d.dst, 8, () -> code.lload(A));
    }

    /** NEG: 0 - value, flagged as that subtraction. */
    private void neg(DecodedInsn d, boolean flagsDead) {
        int z = d.size;
        code.lconst_0().lstore(A);
        load(d.dst, z);
        code.lstore(B);
        code.lload(A).lload(B).lsub().lstore(RES);
        if (!flagsDead) setFlags(Flags.SUB, z, RES);
        store(d.dst, z, () -> code.lload(RES));
    }

    /** SHL/SHR/SAR by a constant; a zero count only zero-extends a 32-bit register. */
    private void shift(DecodedInsn d, boolean flagsDead) {
        int z = d.size;
        int count = (int) (d.imm & shiftMask(z));
        if (count == 0) {
            store(d.dst, z, () -> load(d.dst, z));
            return;
        }
        if (isRotate(d.fastOp)) {
            rotate(d, count, flagsDead);
            return;
        }
        load(d.dst, z);
        code.lstore(A);
        code.lload(A);
        if (d.fastOp == Flags.SAR && z == 4) code.l2i().i2l(); // sign of the 32-bit value
        code.loadConstant(count);
        switch (d.fastOp) {
            case Flags.SHL -> code.lshl();
            case Flags.SHR -> code.lushr();
            default -> code.lshr();
        }
        if (z == 4) code.loadConstant(LOW32).land();
        code.lstore(RES);
        store(d.dst, z, () -> code.lload(RES));
        if (!flagsDead) {
            code.loadConstant((long) count).lstore(B);
            setFlags(d.fastOp, z, RES);
        }
    }

    /** ROL/ROR by a constant other than zero; CF and OF through FastPath#rotateFlags unless dead. */
    private void rotate(DecodedInsn d, int count, boolean flagsDead) {
        int z = d.size;
        boolean left = d.fastOp == FastPath.ROL;
        int right = left ? count : z * 8 - count; // as a left rotation
        if (z == 8) {
            code.lload(GPR + 2 * d.dst).loadConstant(right).invokestatic(LONG, "rotateLeft", ROTATE_LONG);
        } else {
            code.lload(GPR + 2 * d.dst).l2i().loadConstant(right)
                    .invokestatic(INTEGER, "rotateLeft", ROTATE_INT).i2l().loadConstant(LOW32).land();
        }
        code.lstore(RES);
        store(d.dst, z, () -> code.lload(RES));
        if (!flagsDead) {
            readingFlags(); // a rotation merges CF and OF into the flags so far
            code.aload(1).loadConstant(left ? 1 : 0).loadConstant(z).lload(RES)
                    .invokevirtual(FAST, "rotateFlags", ROTATE_FLAGS);
            closePending();
        }
    }

    /** Two-operand IMUL: the low half, and CF = OF = "the signed product did not fit". */
    private void imul(DecodedInsn d, boolean flagsDead) {
        int z = d.size;
        signed(d.dst, z);
        code.lstore(A);
        signed(d.src, z);
        code.lstore(B);
        code.lload(A).lload(B).lmul().lstore(RES);
        if (!flagsDead) {
            code.aload(FLAGS).loadConstant(z).lload(RES);
            if (z == 8) {
                // overflow = multiplyHigh(a, b) != lo >> 63
                code.lload(A).lload(B).invokestatic(ClassDesc.of("java.lang.Math"), "multiplyHigh", MULTIPLY_HIGH);
                code.lload(RES).loadConstant(63).lshr();
            } else {
                // overflow = (long) (int) lo != lo
                code.lload(RES).l2i().i2l().lload(RES);
            }
            notEqual();
            code.invokestatic(ALU_CLASS, "mulFlags", MUL_FLAGS);
            closePending();
        }
        store(d.dst, z, () -> code.lload(RES));
    }

    /** INC/DEC: CF is kept, so the flags record what it was (Flags#setIncDec). */
    private void incDec(DecodedInsn d, boolean flagsDead) {
        int z = d.size;
        boolean inc = d.fastOp == 0;
        load(d.dst, z);
        code.lstore(A);
        code.lload(A).loadConstant(1L);
        if (inc) code.ladd();
        else code.lsub();
        if (z == 4) code.loadConstant(LOW32).land();
        code.lstore(RES);
        if (!flagsDead) {
            readingFlags(); // INC/DEC keep CF: they read the flags so far
            code.aload(FLAGS).loadConstant(inc ? 1 : 0).loadConstant(z).lload(A).lload(RES)
                    .invokevirtual(FLAGS_CLASS, "setIncDec", SET_INC_DEC);
            closePending();
        }
        store(d.dst, z, () -> code.lload(RES));
    }

    /** CMOVcc: moves if the condition holds; a 32-bit CMOV zero-extends its destination either way. */
    private void cmov(DecodedInsn d) {
        int z = d.size;
        Label otherwise = code.newLabel(), done = code.newLabel();
        condition(d.fastOp);
        code.ifeq(otherwise);
        store(d.dst, z, () -> load(d.src, z));
        code.goto_(done);
        code.labelBinding(otherwise);
        if (z == 4) store(d.dst, 4, () -> load(d.dst, 4));
        code.labelBinding(done);
    }

    /**
     * flags.set(kind, size, a, b, result) from the A, B and given slots; or, if this update may stay
     * pending, the same values into the PENDING_ locals.
     */
    private void setFlags(int kind, int z, int resultSlot) {
        if (pendingNext) {
            code.lload(A).lstore(PENDING_A).lload(B).lstore(PENDING_B).lload(resultSlot).lstore(PENDING_RES);
            code.loadConstant(kind | z << 8).istore(PENDING_KIND);
            pendingKind = kind;
            pendingSize = z;
            return;
        }
        code.aload(FLAGS).loadConstant(kind).loadConstant(z).lload(A).lload(B).lload(resultSlot)
                .invokevirtual(FLAGS_CLASS, "set", FLAGS_SET);
        closePending();
    }

    /** Pushes whether condition code {@code cc} holds now (an int, 0 or 1). */
    void condition(int cc) {
        readingFlags();
        code.aload(FLAGS).loadConstant(cc).invokevirtual(FLAGS_CLASS, "cond", COND);
    }

    /** (long, long) on the stack → int 1 if they differ, else 0. */
    private void notEqual() {
        Label same = code.newLabel(), done = code.newLabel();
        code.lcmp().ifeq(same).iconst_1().goto_(done);
        code.labelBinding(same);
        code.iconst_0();
        code.labelBinding(done);
    }

    /** disp + r[base] + (r[index] << scale), 64-bit. */
    private void effectiveAddress(DecodedInsn d) {
        code.loadConstant(d.disp);
        if (d.base >= 0) code.lload(GPR + 2 * d.base).ladd();
        if (d.index >= 0) code.lload(GPR + 2 * d.index).loadConstant(d.scale).lshl().ladd();
    }

    /** Pushes register n read at size z (1, 2, 4 or 8 bytes), zero-extended. */
    private void load(int n, int z) {
        code.lload(GPR + 2 * n);
        if (z != 8) code.loadConstant(z == 4 ? LOW32 : z == 2 ? 0xFFFFL : 0xFFL).land();
    }

    /** Pushes register n read at size z (4 or 8), sign-extended. */
    private void signed(int n, int z) {
        code.lload(GPR + 2 * n);
        if (z == 4) code.l2i().i2l();
    }

    /** r[n] = value (a 32-bit write zeroes the upper half, as in 64-bit mode). */
    private void store(int n, int z, Runnable value) {
        value.run();
        if (z == 4) code.loadConstant(LOW32).land();
        code.lstore(GPR + 2 * n);
        dirty[n] = true;
    }

    private static boolean isRotate(int op) {
        return op == FastPath.ROL || op == FastPath.ROR;
    }

    private static long shiftMask(int z) {
        return z == 8 ? 0x3F : 0x1F;
    }
}
