package dev.flint.engine.emu.cpu;

import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassHierarchyResolver;
import java.lang.classfile.CodeBuilder;
import java.lang.classfile.Label;
import java.lang.constant.ClassDesc;
import java.lang.constant.ConstantDescs;
import java.lang.constant.MethodTypeDesc;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Compiles hot decoded blocks whose instructions all have a {@link FastPath} form into a hidden class
 * (JDK ClassFile API): the commonest forms (register arithmetic, loads and stores) become bytecode with
 * their operands as constants ({@link InlineForms}), the others a call to their form's method. The JVM then turns the block into one
 * straight-line method: no per-instruction dispatch, no RIP bookkeeping between instructions, and the
 * block's loop-carried state stays in the JIT's hands.
 *
 * <p>In 64-bit mode a hot block is compiled with the blocks its direct branches lead to in its code page
 * (and the next page, when its last instruction crosses into it) as one region ({@link #compileRegion}):
 * branches between them are JVM jumps, so a loop over several blocks stays in one method.
 *
 * <p>Semantics are the replay's: a fault restarts the instruction that raised it with the registers as
 * they were before it (the exception handler stores the block's register locals back and tells the CPU
 * which instruction it was); a conditional branch taken in the middle of the block leaves early.
 */
final class BlockCompiler {
    private static final Logger LOG = Logger.getLogger(BlockCompiler.class.getName());
    private static final ClassDesc FAST = ClassDesc.of(FastPath.class.getName());
    private static final ClassDesc INSN = ClassDesc.of(DecodedInsn.class.getName());
    private static final ClassDesc COMPILED = ClassDesc.of(CompiledBlock.class.getName());
    private static final ClassDesc CPU = ClassDesc.of(Cpu.class.getName());
    private static final ClassDesc MMU = ClassDesc.of(dev.flint.engine.emu.mmu.Mmu.class.getName());
    private static final MethodTypeDesc TAKES_INSN = MethodTypeDesc.of(ConstantDescs.CD_void, INSN);
    private static final MethodTypeDesc TAKES_LONG = MethodTypeDesc.of(ConstantDescs.CD_void, ConstantDescs.CD_long);
    private static final MethodTypeDesc RUN = MethodTypeDesc.of(ConstantDescs.CD_int, FAST, INSN.arrayType(),
            ConstantDescs.CD_int);
    private static final ClassFile CLASS_FILE = ClassFile.of(ClassFile.ClassHierarchyResolverOption.of(
            ClassHierarchyResolver.ofClassLoading(BlockCompiler.class.getClassLoader())));
    private static final AtomicLong COMPILED_BLOCKS = new AtomicLong(), COMPILE_NANOS = new AtomicLong(),
            FAILURES = new AtomicLong(), REGION_MEMBERS = new AtomicLong();
    /** The local slot of the exception handler's throwable (after InlineForms' slots). */
    private static final int THROWN = 47;
    /** The run method's budget argument, and the local counting the instructions of earlier passes. */
    private static final int BUDGET = 3, COUNT = 48;

    /** HotSpot's huge-method limit (-XX:-DontCompileHugeMethods is not the default): larger methods stay interpreted. */
    static final int MAX_METHOD_BYTES = 8000;
    /**
     * The largest method a region of several blocks may compile to. C2 inlines callees (the guest loads and
     * stores, the flag updates) only while the method and what it inlined stay under its inlining budget
     * (DesiredMethodLimit, 8,000 bytecode bytes); past it they stay calls, and a region of 7,850 bytes ran
     * the sha256 loop at half the speed of its blocks compiled one by one.
     */
    static final int REGION_BYTES = 6000;
    private static final java.util.concurrent.atomic.AtomicInteger LARGEST_METHOD = new java.util.concurrent.atomic.AtomicInteger();
    private static final AtomicLong TOO_LARGE = new AtomicLong();

    private BlockCompiler() {}

    /** The bytecode length of the largest run method generated so far (all vCPUs), for tests. */
    static int largestMethod() { return LARGEST_METHOD.get(); }

    /** Blocks left uncompiled because their method came out over {@link #MAX_METHOD_BYTES}. */
    static long tooLarge() { return TOO_LARGE.get(); }

    private static int runMethodLength(byte[] bytes) {
        for (var m : CLASS_FILE.parse(bytes).methods()) {
            if (m.methodName().equalsString("run")) {
                return m.findAttribute(java.lang.classfile.Attributes.code()).map(c -> c.codeLength()).orElse(0);
            }
        }
        return 0;
    }

    /** Blocks compiled so far in this process (all vCPUs). */
    static long compiledBlocks() { return COMPILED_BLOCKS.get(); }

    /** Blocks whose compilation failed (a bug: they keep being replayed); tests assert there are none. */
    static long failures() { return FAILURES.get(); }

    /** Nanoseconds spent generating and defining block classes so far (all vCPUs). */
    static long compileNanos() { return COMPILE_NANOS.get(); }

    /**
     * True if compiling the block pays: some instruction of it has a fast form (the others run their
     * general handler from the compiled code, through {@link Cpu#replayInBlock}).
     */
    static boolean compilable(DecodedInsn[] insns) {
        for (DecodedInsn d : insns) {
            if (d.fast != FastPath.NONE) return true;
        }
        return false;
    }

    /** The compiled block, or null if it could not be compiled (the block then keeps being replayed). */
    static CompiledBlock compile(DecodedInsn[] insns) {
        return compileRegion(java.util.List.<DecodedInsn[]>of(insns));
    }

    /**
     * Compiles a region: the first member is the block the dispatcher enters, the others are blocks that
     * its direct branches (and theirs) lead to. A branch to a member's first instruction is a JVM jump
     * inside the method, with the guest registers staying in locals, so a loop spanning several blocks,
     * or a run of blocks, never goes back to the dispatcher between them. Returns null if the method comes
     * out over {@link #MAX_METHOD_BYTES} (a region of several: {@link #REGION_BYTES} or {@link #INLINE_BUDGET};
     * the caller then tries fewer members) or could not be built.
     * The instructions the method indexes are {@link #concatenated} members.
     */
    static CompiledBlock compileRegion(java.util.List<DecodedInsn[]> members) {
        long t0 = System.nanoTime();
        try {
            byte[] bytes = CLASS_FILE.build(ClassDesc.of(BlockCompiler.class.getPackageName(), "Block"), cb -> {
                cb.withFlags(ClassFile.ACC_FINAL | ClassFile.ACC_SYNTHETIC);
                cb.withInterfaceSymbols(COMPILED);
                cb.withMethodBody(ConstantDescs.INIT_NAME, ConstantDescs.MTD_void, ClassFile.ACC_PUBLIC,
                        code -> code.aload(0)
                                .invokespecial(ConstantDescs.CD_Object, ConstantDescs.INIT_NAME, ConstantDescs.MTD_void)
                                .return_());
                cb.withMethodBody("run", RUN, ClassFile.ACC_PUBLIC, code -> emit(code, members));
            });
            int length = runMethodLength(bytes);
            if (members.size() == 1) LARGEST_METHOD.accumulateAndGet(length, Math::max);
            if (length > (members.size() == 1 ? MAX_METHOD_BYTES : REGION_BYTES)
                    || (members.size() > 1 && length + inlinedBytes(members) > INLINE_BUDGET)) {
                // HotSpot never JIT-compiles a method this large: interpreted bytecode would be slower than
                // the replay, so the block keeps being replayed (or the region is tried with fewer members).
                if (members.size() == 1) TOO_LARGE.incrementAndGet();
                return null;
            }
            LARGEST_METHOD.accumulateAndGet(length, Math::max);
            MethodHandles.Lookup lookup = MethodHandles.lookup().defineHiddenClass(bytes, true);
            CompiledBlock block = (CompiledBlock) lookup.findConstructor(lookup.lookupClass(),
                    MethodType.methodType(void.class)).invoke();
            COMPILED_BLOCKS.incrementAndGet();
            if (members.size() > 1) REGION_MEMBERS.addAndGet(members.size() - 1);
            return block;
        } catch (Throwable t) {
            FAILURES.incrementAndGet();
            LOG.log(Level.WARNING, "emu: could not compile a region of " + members.size() + " blocks", t);
            return null;
        } finally {
            COMPILE_NANOS.addAndGet(System.nanoTime() - t0);
        }
    }

    /**
     * C2's inlining budget (DesiredMethodLimit): a region's bytecode plus an estimate of what C2 inlines into
     * it must stay under this, or its guest loads, stores and condition reads end up as calls.
     */
    static final int INLINE_BUDGET = 8000;
    /**
     * Estimated bytecode C2 inlines per guest memory access (TLB check, the memory segment's access path)
     * and per condition read ({@link Flags#cond}). 500 rather than a lower 350 measured 2,146 vs 1,953 MIPS
     * on the sha256 steady state (`InterpreterBenchmark sha256 -Dcalls=800000`).
     */
    static final int MEMORY_WEIGHT = 500, CONDITION_WEIGHT = 200;

    /**
     * A rough measure of the bytecode C2 inlines into a region's method: guest memory accesses, forms run by
     * a call of their FastPath method, and condition reads.
     */
    private static int inlinedBytes(java.util.List<DecodedInsn[]> members) {
        int bytes = 0;
        for (DecodedInsn[] insns : members) {
            for (DecodedInsn d : insns) {
                if (mayFault(d.fast) && d.fast != FastPath.NONE) bytes += MEMORY_WEIGHT;
                // a form called rather than inlined (ADC, MUL, ...): C2 inlines the FastPath method and its ALU
                else if (d.fast != FastPath.NONE && !InlineForms.handles(d) && d.fast != FastPath.JCC
                        && d.fast != FastPath.JMP) bytes += MEMORY_WEIGHT;
                if (d.fast == FastPath.JCC || d.fast == FastPath.CMOV_RR || d.fast == FastPath.SETCC_R) bytes += CONDITION_WEIGHT;
            }
        }
        return bytes;
    }

    /** The members' instructions in one array, as a region's run method indexes them. */
    static DecodedInsn[] concatenated(java.util.List<DecodedInsn[]> members) {
        if (members.size() == 1) return members.get(0);
        DecodedInsn[] all = new DecodedInsn[members.stream().mapToInt(m -> m.length).sum()];
        int at = 0;
        for (DecodedInsn[] m : members) {
            System.arraycopy(m, 0, all, at, m.length);
            at += m.length;
        }
        return all;
    }

    /**
     * The RIPs a block's direct branches and its fall-through can go to: where {@link #compileRegion} can
     * turn a way out into a jump to another member.
     */
    static long[] directTargets(DecodedInsn[] insns) {
        int last = insns.length - 1;
        long[] targets = new long[insns.length + 1];
        int n = 0;
        for (int i = 0; i <= last; i++) {
            DecodedInsn d = insns[i];
            if (d.fast == FastPath.JCC || (d.fast == FastPath.JMP && i == last)) targets[n++] = d.imm;
        }
        DecodedInsn end = insns[last];
        if (end.fast == FastPath.JCC || InlineForms.handles(end)) targets[n++] = end.endIp;
        return java.util.Arrays.copyOf(targets, n);
    }

    /** Blocks compiled into another block's region so far (all vCPUs). */
    static long regionMembers() { return REGION_MEMBERS.get(); }

    private static void emit(CodeBuilder code, java.util.List<DecodedInsn[]> members) {
        boolean[] local = new boolean[16];
        for (DecodedInsn[] insns : members) {
            for (DecodedInsn d : insns) {
                if (InlineForms.handles(d)) InlineForms.uses(d, local);
            }
        }
        InlineForms forms = new InlineForms(code, local);
        forms.prologue();
        Exits exits = new Exits(code, forms, members);
        Label start = code.newLabel(), end = code.newLabel(), handler = code.newLabel();
        code.labelBinding(start);
        if (exits.counting) code.iconst_0().istore(COUNT);
        int offset = 0;
        for (int m = 0; m < members.size(); m++) {
            DecodedInsn[] insns = members.get(m);
            if (exits.counting) {
                // A member's head: reached from other members too, where registers written before are
                // only in their locals.
                code.labelBinding(exits.heads[m]);
                forms.allDirty();
            }
            forms.noPendingFlags();
            emitMember(code, forms, exits, insns, offset);
            offset += insns.length;
        }
        code.labelBinding(end);
        // Anything thrown (a guest fault, mostly): the registers as they were before the instruction
        // that threw go back to the array, and the CPU learns which instruction to restart.
        code.labelBinding(handler);
        code.astore(THROWN);
        forms.storeAll();
        forms.pendingToFlagsIfAny();
        code.aload(InlineForms.CPU).aload(2).iload(InlineForms.INDEX).aaload()
                .getfield(INSN, "rip", ConstantDescs.CD_long).invokevirtual(CPU, "setStartIp", TAKES_LONG);
        code.aload(THROWN).athrow();
        code.exceptionCatchAll(start, end, handler);
    }

    /** One member's instructions, at {@code offset} in the region's instruction array. */
    private static void emitMember(CodeBuilder code, InlineForms forms, Exits exits, DecodedInsn[] insns, int offset) {
        int last = insns.length - 1;
        boolean[] flagsDead = flagsDeadAfter(insns);
        boolean[] flagsPending = flagsPendingAfter(insns, flagsDead);
        for (int i = 0; i <= last; i++) {
            DecodedInsn d = insns[i];
            int at = offset + i; // the instruction's index in the region's array
            code.lineNumber(at + 1); // profilers show the guest instruction (its index in the region) as the line
            // A fault restarts this instruction: the handler below reads which one it was from INDEX.
            if (mayFault(d.fast)) code.loadConstant(at).istore(InlineForms.INDEX);
            if (InlineForms.handles(d)) {
                forms.pendingFlags(flagsPending[i]);
                forms.emit(d, flagsDead[i]);
                // A store into code ends the block after it; a member's last store too, or the region would
                // go on into the next member (maybe the very code just rewritten) as it was decoded.
                if (stores(d.fast)) exits.leaveIfCodeStored(d.endIp, i + 1);
                if (i == last) exits.branch(d.endIp, insns.length);
            } else if (d.fast == FastPath.JMP && i == last) {
                exits.branch(d.imm, insns.length);
            } else if (d.fast == FastPath.JCC) {
                // Taken: on to the target. Not taken: go on, or on to the next instruction if last.
                Label notTaken = code.newLabel();
                forms.condition(d.fastOp);
                code.ifeq(notTaken);
                exits.branch(d.imm, i + 1);
                code.labelBinding(notTaken);
                if (i == last) exits.branch(d.endIp, insns.length);
            } else if (d.fast == FastPath.NONE) {
                // No fast form: the instruction's handler runs (Cpu.replayInBlock), on the register array.
                forms.flush();
                code.aload(InlineForms.CPU).aload(2).loadConstant(at).aaload()
                        .invokevirtual(CPU, "replayInBlock", MethodTypeDesc.of(ConstantDescs.CD_boolean, INSN));
                if (i == last) {
                    code.pop();
                    exits.ret(insns.length);
                } else {
                    Label goesOn = code.newLabel();
                    code.ifne(goesOn);
                    exits.ret(i + 1);
                    code.labelBinding(goesOn);
                    forms.reload();
                }
            } else {
                forms.flush(); // the form's method works on the register array
                String method = FastPath.STRAIGHT_LINE[d.fast];
                if (i == last) {
                    call(code, at, "run"); // the last one sets RIP, whatever it is
                    exits.ret(insns.length);
                } else if (method != null) {
                    call(code, at, method);
                    forms.reload();
                    if (stores(d.fast)) exits.leaveIfCodeStored(d.endIp, i + 1);
                } else {
                    // A jump or call that went to the next instruction when the block was built (CALL +0):
                    // leave if it goes elsewhere now.
                    call(code, at, "run");
                    Label fallsThrough = code.newLabel();
                    code.aload(1).loadConstant(d.endIp)
                            .invokevirtual(FAST, "atRip", MethodTypeDesc.of(ConstantDescs.CD_boolean, ConstantDescs.CD_long))
                            .ifne(fallsThrough);
                    exits.ret(i + 1);
                    code.labelBinding(fallsThrough);
                    forms.reload();
                    if (stores(d.fast)) exits.leaveIfCodeStored(d.endIp, i + 1);
                }
            }
        }
    }

    /**
     * True if a direct branch of the block (a JMP ending it, or a taken JCC) goes back to its own first
     * instruction: the block is then compiled as a JVM loop, so a guest loop runs many passes without
     * leaving its compiled code.
     */
    static boolean loopsToItself(DecodedInsn[] insns) {
        long first = insns[0].rip;
        int last = insns.length - 1;
        for (int i = 0; i <= last; i++) {
            DecodedInsn d = insns[i];
            if ((d.fast == FastPath.JCC || (d.fast == FastPath.JMP && i == last)) && d.imm == first) return true;
        }
        return false;
    }

    /**
     * The ways out of a compiled region, and the ways between its members (a block that loops to its own
     * start is a region of one with such a way, see {@link #loopsToItself}): another member's pass starts
     * only if all of it still fits in the budget (the run method's int argument) and nothing that ends a
     * block happened (a store into code, a mode change, a fault all leave on their own), so the
     * dispatcher, and with it interrupt delivery, is never further away than a block always was.
     * Instructions of the members' passes already run are in {@link #COUNT}.
     */
    private static final class Exits {
        private final CodeBuilder code;
        private final InlineForms forms;
        /** True if the region has ways between members (then it counts in {@link #COUNT}). */
        final boolean counting;
        /** Each member's head label, its first RIP and its length. */
        final Label[] heads;
        private final long[] firsts;
        private final int[] lengths;

        Exits(CodeBuilder code, InlineForms forms, java.util.List<DecodedInsn[]> members) {
            this.code = code;
            this.forms = forms;
            this.counting = members.size() > 1 || loopsToItself(members.get(0));
            heads = new Label[members.size()];
            firsts = new long[members.size()];
            lengths = new int[members.size()];
            for (int m = 0; m < members.size(); m++) {
                heads[m] = code.newLabel();
                firsts[m] = members.get(m)[0].rip;
                lengths[m] = members.get(m).length;
            }
        }

        /** Returns the instructions run: {@code n} of this member's pass plus the earlier passes. */
        void ret(int n) {
            if (counting) code.iload(COUNT).loadConstant(n).iadd().ireturn();
            else code.loadConstant(n).ireturn();
        }

        /** Stores the dirty registers, sets RIP and returns the instructions run: a way out of the region. */
        void leave(long rip, int n) {
            forms.pendingToFlags();
            forms.storeDirty();
            code.aload(1).loadConstant(rip).invokevirtual(FAST, "jump", TAKES_LONG);
            ret(n);
        }

        /** Execution goes on at {@code target} after {@code n} instructions of this pass: to a member's head or out. */
        void branch(long target, int n) {
            int m = member(target);
            if (m < 0 || !counting) {
                leave(target, n);
                return;
            }
            Label out = code.newLabel();
            code.iinc(COUNT, n);
            code.iload(COUNT).loadConstant(lengths[m]).iadd().iload(BUDGET).if_icmpgt(out);
            code.goto_(heads[m]);
            code.labelBinding(out);
            leave(target, 0);
        }

        private int member(long rip) {
            for (int m = 0; m < firsts.length; m++) {
                if (firsts[m] == rip) return m;
            }
            return -1;
        }

        /**
         * After a store: if it changed a page holding decoded code (maybe the rest of this very block), the
         * block ends here, so the next instruction is run from memory as it is now, as on hardware.
         */
        void leaveIfCodeStored(long rip, int n) {
            Label goesOn = code.newLabel();
            code.aload(InlineForms.MMU).invokevirtual(MMU, "codeStored", MethodTypeDesc.of(ConstantDescs.CD_boolean))
                    .ifeq(goesOn);
            leave(rip, n);
            code.labelBinding(goesOn);
        }
    }

    /** True for the fast forms that write guest memory. */
    static boolean stores(int form) {
        return switch (form) {
            case FastPath.MOV_STORE, FastPath.MOV_STORE_IMM, FastPath.ALU_STORE, FastPath.ALU_STORE_IMM,
                 FastPath.SETCC_STORE, FastPath.PUSH, FastPath.CALL -> true;
            default -> false;
        };
    }

    /**
     * For each instruction, whether a later one of the block replaces all arithmetic flags before
     * anything can read them or fault (a fault hands the guest the flags as they are): only inlined
     * forms qualify on both counts, and the block's last instruction, which runs through
     * {@link FastPath#run}, always reads them.
     */
    static boolean[] flagsDeadAfter(DecodedInsn[] insns) {
        boolean[] dead = new boolean[insns.length];
        boolean overwritten = false;
        for (int j = insns.length - 1; j >= 0; j--) {
            dead[j] = overwritten;
            DecodedInsn d = insns[j];
            boolean inlined = j < insns.length - 1 && InlineForms.handles(d);
            if (!inlined || mayFault(d.fast) || InlineForms.readsFlags(d, dead[j])) overwritten = false;
            else if (InlineForms.writesAllFlags(d)) overwritten = true;
        }
        return dead;
    }

    /**
     * For each instruction, whether its flag update may stay pending ({@link InlineForms#pendingFlags}): not
     * dead, but a later inlined instruction of the block replaces all flags before anything reads them,
     * calls out or the block ends, with only guest memory accesses (which may fault) in between. A fault
     * there, or a way out after a store into code, records the pending update; the normal path never needs it.
     */
    static boolean[] flagsPendingAfter(DecodedInsn[] insns, boolean[] dead) {
        boolean[] pending = new boolean[insns.length];
        boolean overwritten = false;
        for (int j = insns.length - 1; j >= 0; j--) {
            pending[j] = overwritten && !dead[j];
            DecodedInsn d = insns[j];
            boolean inlined = j < insns.length - 1 && InlineForms.handles(d);
            if (!inlined || InlineForms.readsFlags(d, dead[j])) overwritten = false;
            else if (InlineForms.writesAllFlags(d)) overwritten = true;
        }
        return pending;
    }

    /** fast.method(insns[i]) */
    private static void call(CodeBuilder code, int i, String method) {
        code.aload(1).aload(2).loadConstant(i).aaload().invokevirtual(FAST, method, TAKES_INSN);
    }

    private static boolean mayFault(int form) {
        return switch (form) {
            case FastPath.NONE -> true; // the general handlers, anything goes
            case FastPath.MOV_LOAD, FastPath.MOV_STORE, FastPath.MOV_STORE_IMM, FastPath.ALU_LOAD, FastPath.ALU_STORE,
                 FastPath.ALU_STORE_IMM, FastPath.TEST_LOAD, FastPath.MOVZX_LOAD, FastPath.IMUL_LOAD,
                 FastPath.CMOV_LOAD, FastPath.SETCC_STORE, FastPath.TEST8_LOAD, FastPath.MUL_LOAD, FastPath.PUSH,
                 FastPath.POP, FastPath.CALL, FastPath.RET, FastPath.TEST_LOAD_IMM, FastPath.MOVSXD_LOAD,
                 FastPath.ALU8_LOAD, FastPath.MOVSX_LOAD -> true;
            default -> false;
        };
    }
}
