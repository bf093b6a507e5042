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
            FAILURES = new AtomicLong();
    /** The local slot of the exception handler's throwable (after InlineForms' slots). */
    private static final int THROWN = 47;
    /** The run method's budget argument, and the local counting the instructions of earlier passes. */
    private static final int BUDGET = 3, COUNT = 48;

    /** HotSpot's huge-method limit (-XX:-DontCompileHugeMethods is not the default): larger methods stay interpreted. */
    static final int MAX_METHOD_BYTES = 8000;
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
        long t0 = System.nanoTime();
        try {
            byte[] bytes = CLASS_FILE.build(ClassDesc.of(BlockCompiler.class.getPackageName(), "Block"), cb -> {
                cb.withFlags(ClassFile.ACC_FINAL | ClassFile.ACC_SYNTHETIC);
                cb.withInterfaceSymbols(COMPILED);
                cb.withMethodBody(ConstantDescs.INIT_NAME, ConstantDescs.MTD_void, ClassFile.ACC_PUBLIC,
                        code -> code.aload(0)
                                .invokespecial(ConstantDescs.CD_Object, ConstantDescs.INIT_NAME, ConstantDescs.MTD_void)
                                .return_());
                cb.withMethodBody("run", RUN, ClassFile.ACC_PUBLIC, code -> emit(code, insns));
            });
            int length = runMethodLength(bytes);
            LARGEST_METHOD.accumulateAndGet(length, Math::max);
            if (length > MAX_METHOD_BYTES) {
                // HotSpot never JIT-compiles a method this large: interpreted bytecode would be slower than
                // the replay, so the block keeps being replayed.
                TOO_LARGE.incrementAndGet();
                return null;
            }
            MethodHandles.Lookup lookup = MethodHandles.lookup().defineHiddenClass(bytes, true);
            CompiledBlock block = (CompiledBlock) lookup.findConstructor(lookup.lookupClass(),
                    MethodType.methodType(void.class)).invoke();
            COMPILED_BLOCKS.incrementAndGet();
            return block;
        } catch (Throwable t) {
            FAILURES.incrementAndGet();
            LOG.log(Level.WARNING, "emu: could not compile a block of " + insns.length + " instructions", t);
            return null;
        } finally {
            COMPILE_NANOS.addAndGet(System.nanoTime() - t0);
        }
    }

    private static void emit(CodeBuilder code, DecodedInsn[] insns) {
        int last = insns.length - 1;
        boolean[] local = new boolean[16];
        for (DecodedInsn d : insns) {
            if (InlineForms.handles(d)) InlineForms.uses(d, local);
        }
        InlineForms forms = new InlineForms(code, local);
        forms.prologue();
        boolean[] flagsDead = flagsDeadAfter(insns);
        Exits exits = new Exits(code, forms, loopsToItself(insns), insns[0].rip, insns.length);
        Label start = code.newLabel(), end = code.newLabel(), handler = code.newLabel();
        code.labelBinding(start);
        if (exits.loops) {
            // The loop head: registers written by an earlier pass are only in their locals.
            code.iconst_0().istore(COUNT);
            forms.allDirty();
            code.labelBinding(exits.head);
        }
        for (int i = 0; i <= last; i++) {
            DecodedInsn d = insns[i];
            code.lineNumber(i + 1); // profilers show the guest instruction (its index in the block) as the line
            // A fault restarts this instruction: the handler below reads which one it was from INDEX.
            if (mayFault(d.fast)) code.loadConstant(i).istore(InlineForms.INDEX);
            if (InlineForms.handles(d)) {
                forms.emit(d, flagsDead[i]);
                if (i == last) exits.leave(d.endIp, insns.length);
                else if (stores(d.fast)) exits.leaveIfCodeStored(d.endIp, i + 1);
            } else if (d.fast == FastPath.JMP && i == last) {
                exits.branch(d.imm, insns.length);
            } else if (d.fast == FastPath.JCC) {
                // Taken: leave for the target. Not taken: go on, or leave for the next instruction if last.
                Label notTaken = code.newLabel();
                forms.condition(d.fastOp);
                code.ifeq(notTaken);
                exits.branch(d.imm, i + 1);
                code.labelBinding(notTaken);
                if (i == last) exits.leave(d.endIp, insns.length);
            } else if (d.fast == FastPath.NONE) {
                // No fast form: the instruction's handler runs (Cpu.replayInBlock), on the register array.
                forms.flush();
                code.aload(InlineForms.CPU).aload(2).loadConstant(i).aaload()
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
                    call(code, i, "run"); // the last one sets RIP, whatever it is
                    exits.ret(insns.length);
                } else if (method != null) {
                    call(code, i, method);
                    forms.reload();
                    if (stores(d.fast)) exits.leaveIfCodeStored(d.endIp, i + 1);
                } else {
                    // A jump or call that went to the next instruction when the block was built (CALL +0):
                    // leave if it goes elsewhere now.
                    call(code, i, "run");
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
        code.labelBinding(end);
        // Anything thrown (a guest fault, mostly): the registers as they were before the instruction
        // that threw go back to the array, and the CPU learns which instruction to restart.
        code.labelBinding(handler);
        code.astore(THROWN);
        forms.storeAll();
        code.aload(InlineForms.CPU).aload(2).iload(InlineForms.INDEX).aaload()
                .getfield(INSN, "rip", ConstantDescs.CD_long).invokevirtual(CPU, "setStartIp", TAKES_LONG);
        code.aload(THROWN).athrow();
        code.exceptionCatchAll(start, end, handler);
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
     * The ways out of a compiled block, and for a block that loops to its own start ({@link
     * #loopsToItself}) the way back: another pass runs only if a whole one still fits in the budget
     * (the run method's int argument) and nothing that ends a block happened (a store into code,
     * a mode change, a fault all leave on their own), so the dispatcher, and with it interrupt
     * delivery, is never further away than a block always was. Passes already run are in {@link #COUNT}.
     */
    private static final class Exits {
        private final CodeBuilder code;
        private final InlineForms forms;
        final boolean loops;
        final Label head;
        private final long first;
        private final int length;

        Exits(CodeBuilder code, InlineForms forms, boolean loops, long first, int length) {
            this.code = code;
            this.forms = forms;
            this.loops = loops;
            this.head = code.newLabel();
            this.first = first;
            this.length = length;
        }

        /** Returns the instructions run: {@code n} of this pass plus the earlier passes. */
        void ret(int n) {
            if (loops) code.iload(COUNT).loadConstant(n).iadd().ireturn();
            else code.loadConstant(n).ireturn();
        }

        /** Stores the dirty registers, sets RIP and returns the instructions run: a way out of the block. */
        void leave(long rip, int n) {
            forms.storeDirty();
            code.aload(1).loadConstant(rip).invokevirtual(FAST, "jump", TAKES_LONG);
            ret(n);
        }

        /** A direct branch to {@code target} after {@code n} instructions of this pass: back to the head or out. */
        void branch(long target, int n) {
            if (!loops || target != first) {
                leave(target, n);
                return;
            }
            Label out = code.newLabel();
            code.iinc(COUNT, n);
            code.iload(COUNT).loadConstant(length).iadd().iload(BUDGET).if_icmpgt(out);
            code.goto_(head);
            code.labelBinding(out);
            leave(first, 0);
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
