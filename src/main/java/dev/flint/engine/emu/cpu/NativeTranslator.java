package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.nativecode.BlockFrame;
import dev.flint.engine.emu.nativecode.X64Emitter;

import static dev.flint.engine.emu.nativecode.X64Emitter.BYTE_OPERAND;
import static dev.flint.engine.emu.nativecode.X64Emitter.DIGIT;
import static dev.flint.engine.emu.nativecode.X64Emitter.OPERAND;

/**
 * Translates the start of a decoded 64-bit-mode block into host code (docs/emu-native.md, "Translator, part 1"):
 * the instructions that only read and write general registers and flags, run by the same x86 instruction on the
 * host, so that their results and all six arithmetic flags are the hardware's by construction. Translated: MOV
 * r,r and r,imm; ADD OR ADC SBB AND SUB XOR CMP with r,r and r,imm (the accumulator forms too); TEST r,r and
 * r,imm; INC/DEC; LEA (an address computation, no memory access); MOVZX, MOVSX, MOVSXD r,r; NOP; each with the
 * operand sizes the encoding allows (8 with AH..BH, 16, 32, 64); and JMP and JCC: a JMP ends the translation, a
 * taken JCC leaves the block through an exit of its own (a JCC in the middle of a decoded block is one that fell
 * through when it was decoded: the code after it goes on in the block).
 *
 * <p>The translation stops before the first instruction it does not translate (any other opcode, any memory
 * operand, LOCK or REP prefixes) and the block exits there to Java with RIP at that instruction and everything
 * before it done: the state is exact at an instruction boundary. The guest's flags stay in the host's flags
 * from the block's entry to its exit ({@link BlockFrame}); nothing emitted between two guest instructions
 * changes them.
 *
 * <p>Operands in guest RSP or R15 (which live in the state, not in a host register) are run through a scratch
 * register: push it, load the guest register into it, run the instruction on it, store it back, pop it; moves,
 * push and pop leave the flags alone, and the whole 64-bit value goes through, so 8/16-bit writes keep the rest
 * and 32-bit writes zero the upper half as the instruction itself does.
 */
final class NativeTranslator {
    private NativeTranslator() {}

    /** Host code for the first {@code instructions} guest instructions of a block. */
    record Translation(X64Emitter code, int instructions, BlockFrame frame) {}

    /** Shapes of translated instructions. */
    private static final int REG_FORM = 1, OP_REG = 2, ACCUMULATOR = 3, LEA = 4, NOP = 5, JCC = 6, JMP = 7, MEM = 8, STACK = 9,
            ALU = 10, DIV = 11, STRING = 12, SYSTEM = 13, INDIRECT = 14;

    /**
     * What one instruction is, as the emitter needs it: for {@link #REG_FORM} the guest's opcode with ModRM.reg
     * (a register of {@code regKind} or a /digit) and ModRM.rm; the immediate as the guest's bytes; byte registers
     * numbered as {@link X64Emitter#AH} says.
     */
    private record Shape(int kind, int opSize, boolean twoByte, int opcode, int regKind, int reg, int rmKind, int rm,
                         byte[] imm) {}

    private static final byte[] NONE = {};
    private static final Shape MEMORY = new Shape(MEM, 8, false, 0, DIGIT, 0, OPERAND, 0, NONE);
    private static final Shape STACK_FORM = new Shape(STACK, 8, false, 0, DIGIT, 0, OPERAND, 0, NONE);
    private static final Shape ALU_FORM = new Shape(ALU, 8, false, 0, DIGIT, 0, OPERAND, 0, NONE); // NativeAluForms
    private static final Shape DIV_FORM = new Shape(DIV, 8, false, 0, DIGIT, 0, OPERAND, 0, NONE); // NativeDivForms
    private static final Shape STRING_FORM = new Shape(STRING, 8, false, 0, DIGIT, 0, OPERAND, 0, NONE); // NativeStringForms
    private static final Shape SYSTEM_FORM = new Shape(SYSTEM, 8, false, 0, DIGIT, 0, OPERAND, 0, NONE); // NativeSystemForms
    private static final Shape INDIRECT_FORM = new Shape(INDIRECT, 8, false, 0, DIGIT, 0, OPERAND, 0, NONE); // NativeIndirectForms

    /**
     * Translates {@code insns} from the first up to (not including) the first instruction it cannot translate, or
     * through the first JCC/JMP. Returns null if the first instruction is not translated (nothing to run).
     */
    static Translation translate(DecodedInsn[] insns, boolean mode64) {
        return translate(insns, mode64, 0);
    }

    /** As above, and with {@code tlb} (a {@code NativeTlb}'s address, 0 for none) the memory forms ({@link NativeMemoryForms}). */
    static Translation translate(DecodedInsn[] insns, boolean mode64, long tlb) {
        if (!mode64) return null;
        int n = 0;
        Shape[] shapes = new Shape[insns.length];
        boolean jump = false;
        while (n < insns.length && !jump) {
            Shape s = shape(insns[n]);
            if (s == null && NativeAluForms.translates(insns[n])) s = ALU_FORM;
            if (s == null && NativeDivForms.translates(insns[n])) s = DIV_FORM; // emudiv
            if (s == null && NativeSystemForms.translates(insns[n])) s = SYSTEM_FORM; // emukforms
            if (s == null && tlb != 0 && NativeMemoryForms.access(insns[n]) != 0) s = MEMORY;
            if (s == null && tlb != 0 && NativeStackForms.kind(insns[n]) != 0) s = STACK_FORM; // emustack
            if (s == null && tlb != 0 && NativeStringForms.translates(insns[n])) s = STRING_FORM; // emurep
            if (s == null && tlb != 0 && NativeIndirectForms.kind(insns[n]) != 0) s = INDIRECT_FORM; // emuijmp
            if (s == null) break;
            shapes[n++] = s;
            jump = s.kind == JMP || s == INDIRECT_FORM || s == STACK_FORM && NativeStackForms.endsBlock(insns[n - 1]);
        }
        if (n == 0) return null;
        X64Emitter e = new X64Emitter();
        BlockFrame frame = new BlockFrame(e, n, insns[0].rip, true);
        NativeMemoryForms memory = tlb == 0 ? null : new NativeMemoryForms(e, frame, tlb, insns, n);
        NativeStackForms stack = tlb == 0 ? null : new NativeStackForms(e, frame, tlb, insns);
        NativeStringForms strings = tlb == 0 ? null : new NativeStringForms(e, frame, tlb, insns, n);
        NativeIndirectForms indirect = tlb == 0 ? null : new NativeIndirectForms(e, frame, tlb, insns); // emuijmp
        // A JCC before the block's last instruction (one that was not taken when the block was decoded) leaves
        // through an exit of its own when taken, emitted after the straight-line code.
        java.util.List<X64Emitter.Label> taken = new java.util.ArrayList<>();
        java.util.List<DecodedInsn> takenFrom = new java.util.ArrayList<>();
        boolean exited = false;
        for (int i = 0; i < n; i++) {
            DecodedInsn d = insns[i];
            Shape s = shapes[i];
            switch (s.kind) {
                case JCC -> {
                    X64Emitter.Label l = new X64Emitter.Label();
                    e.jcc(d.fastOp, l);
                    if (i == insns.length - 1) { // the block's last: it ends the block either way
                        frame.exit(d.endIp, n, BlockFrame.EXIT_BRANCH);
                        e.bind(l);
                        frame.exit(d.imm, n, BlockFrame.EXIT_BRANCH);
                        exited = true;
                    } else {
                        taken.add(l);
                        takenFrom.add(d);
                    }
                }
                case JMP -> {
                    frame.exit(d.imm, n, BlockFrame.EXIT_BRANCH);
                    exited = true;
                }
                case NOP -> { }
                case LEA -> lea(e, d, s.opSize);
                case MEM -> memory.emit(i);
                case STACK -> exited |= stack.emit(i);
                case ALU -> NativeAluForms.emit(e, d);
                case DIV -> NativeDivForms.emitRegister(e, frame, d, i);
                case STRING -> strings.emit(i);
                case SYSTEM -> NativeSystemForms.emit(e, d);
                case INDIRECT -> {
                    indirect.emit(i);
                    exited = true;
                }
                default -> emit(e, s);
            }
        }
        if (!exited) frame.exit(insns[n - 1].endIp, n, BlockFrame.EXIT_STOP);
        for (int j = 0; j < taken.size(); j++) {
            e.bind(taken.get(j));
            DecodedInsn d = takenFrom.get(j);
            int done = 0;
            while (insns[done] != d) done++;
            frame.exit(d.imm, done + 1, BlockFrame.EXIT_BRANCH);
        }
        if (memory != null) memory.emitStubs();
        if (stack != null) stack.emitStubs();
        if (indirect != null) indirect.emitStubs();
        frame.finish();
        return new Translation(e, n, frame);
    }

    /** The shape of {@code d}, or null if it is not translated. */
    static Shape shape(DecodedInsn d) {
        if (d.lock || d.repPrefix != 0) return null;
        if (d.fast == FastPath.JCC) return new Shape(JCC, 8, false, 0, DIGIT, 0, OPERAND, 0, NONE);
        if (d.fast == FastPath.JMP) return new Shape(JMP, 8, false, 0, DIGIT, 0, OPERAND, 0, NONE);
        int op = d.opcode, z = d.opSize;
        boolean regForm = d.hasModrm && !d.memOp;
        if (d.twoByte) {
            if (op == 0x1F) return new Shape(NOP, z, true, op, DIGIT, 0, OPERAND, 0, NONE); // NOP r/m: no access
            if ((op == 0xB6 || op == 0xB7 || op == 0xBE || op == 0xBF) && regForm) { // MOVZX, MOVSX
                boolean bytes = (op & 1) == 0;
                return new Shape(REG_FORM, z, true, op, OPERAND, d.reg, bytes ? BYTE_OPERAND : OPERAND,
                        bytes ? byteReg(d, d.rm) : d.rm, NONE);
            }
            return null;
        }
        if (op < 0x40 && (op & 7) <= 3) { // ALU Eb,Gb / Ev,Gv / Gb,Eb / Gv,Ev
            if (!regForm) return null;
            return regReg(d, op, (op & 1) == 0);
        }
        if (op < 0x40 && (op & 7) == 4) return new Shape(ACCUMULATOR, 1, false, op, DIGIT, 0, BYTE_OPERAND, 0, imm(d, 1));
        if (op < 0x40 && (op & 7) == 5) return new Shape(ACCUMULATOR, z, false, op, DIGIT, 0, OPERAND, 0, imm(d, z == 2 ? 2 : 4));
        switch (op) {
            case 0x84, 0x85, 0x88, 0x89, 0x8A, 0x8B -> { // TEST r/m,r; MOV
                return regForm ? regReg(d, op, (op & 1) == 0) : null;
            }
            case 0x80, 0x81, 0x83 -> { // ALU r/m, imm (0x82 is invalid in 64-bit mode)
                if (!regForm) return null;
                boolean bytes = op == 0x80;
                int size = op == 0x81 ? (z == 2 ? 2 : 4) : 1;
                return new Shape(REG_FORM, bytes ? 1 : z, false, op, DIGIT, d.reg & 7, bytes ? BYTE_OPERAND : OPERAND,
                        bytes ? byteReg(d, d.rm) : d.rm, imm(d, size));
            }
            case 0xF6, 0xF7, 0xC6, 0xC7 -> { // TEST r/m, imm; MOV r/m, imm (the /0 forms only)
                if (!regForm || (d.reg & 7) != 0) return null;
                boolean bytes = (op & 1) == 0;
                return new Shape(REG_FORM, bytes ? 1 : z, false, op, DIGIT, 0, bytes ? BYTE_OPERAND : OPERAND,
                        bytes ? byteReg(d, d.rm) : d.rm, imm(d, bytes ? 1 : z == 2 ? 2 : 4));
            }
            case 0xFE, 0xFF -> { // INC, DEC
                if (!regForm || (d.reg & 7) > 1) return null;
                boolean bytes = op == 0xFE;
                return new Shape(REG_FORM, bytes ? 1 : z, false, op, DIGIT, d.reg & 7, bytes ? BYTE_OPERAND : OPERAND,
                        bytes ? byteReg(d, d.rm) : d.rm, NONE);
            }
            case 0xA8 -> { return new Shape(ACCUMULATOR, 1, false, op, DIGIT, 0, BYTE_OPERAND, 0, imm(d, 1)); }
            case 0xA9 -> { return new Shape(ACCUMULATOR, z, false, op, DIGIT, 0, OPERAND, 0, imm(d, z == 2 ? 2 : 4)); }
            case 0xB0, 0xB1, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7 -> {
                return new Shape(OP_REG, 1, false, 0xB0, DIGIT, 0, BYTE_OPERAND, byteReg(d, (op & 7) | d.rexB), imm(d, 1));
            }
            case 0xB8, 0xB9, 0xBA, 0xBB, 0xBC, 0xBD, 0xBE, 0xBF -> {
                return new Shape(OP_REG, z, false, 0xB8, DIGIT, 0, OPERAND, (op & 7) | d.rexB, imm(d, z));
            }
            case 0x63 -> { // MOVSXD (and MOVSXD with a 16- or 32-bit destination: a plain move of that size)
                return regForm ? new Shape(REG_FORM, z, false, op, OPERAND, d.reg, OPERAND, d.rm, NONE) : null;
            }
            case 0x8D -> { // LEA: 64-bit addressing only; the displacement must fit a disp32 unless it is the whole address
                if (!d.memOp || d.adSize != 8) return null;
                boolean absolute = d.base < 0 && d.index < 0;
                if (!absolute && d.disp != (int) d.disp) return null;
                return new Shape(LEA, z, false, op, OPERAND, d.reg, OPERAND, 0, NONE);
            }
            case 0x90 -> { return d.rexB == 0 ? new Shape(NOP, z, false, op, DIGIT, 0, OPERAND, 0, NONE) : null; }
            default -> { return null; }
        }
    }

    private static Shape regReg(DecodedInsn d, int op, boolean bytes) {
        int kind = bytes ? BYTE_OPERAND : OPERAND;
        return new Shape(REG_FORM, bytes ? 1 : d.opSize, false, op, kind, bytes ? byteReg(d, d.reg) : d.reg, kind,
                bytes ? byteReg(d, d.rm) : d.rm, NONE);
    }

    /** A byte register as the emitter numbers them: without REX, 4..7 are AH..BH. */
    static int byteReg(DecodedInsn d, int r) {
        return !d.rex && r >= 4 && r < 8 ? X64Emitter.AH + (r - 4) : r;
    }

    /** The last {@code size} bytes of the instruction: its immediate, as the guest encoded it. */
    static byte[] imm(DecodedInsn d, int size) {
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) {
            int at = d.length - size + i;
            b[i] = (byte) (at < 8 ? d.window >>> (8 * at) : d.window2 >>> (8 * (at - 8)));
        }
        return b;
    }

    // ------------------------------------------------------------ emission

    /** Host registers that can stand in for guest RSP/R15 (they need no REX for a full-size operand). */
    private static final int[] SCRATCH = {X64Emitter.RAX, X64Emitter.RCX, X64Emitter.RDX, X64Emitter.RBX,
            X64Emitter.RSI, X64Emitter.RDI};

    /**
     * The host registers for an instruction's guest registers ({@code regs}, -1 for none; byte registers AH..BH as
     * their own numbers): the same number for a resident one, else a scratch register the instruction does not
     * use, one per distinct guest register. Emits the scratch registers' push and load.
     */
    static int[] enter(X64Emitter e, int[] regs, int[] kinds) {
        int[] host = regs.clone();
        int used = 0;
        for (int i = 0; i < regs.length; i++) {
            if (regs[i] >= 0) used |= 1 << (regs[i] >= X64Emitter.AH ? regs[i] - X64Emitter.AH : regs[i]);
        }
        for (int i = 0; i < regs.length; i++) {
            int g = regs[i];
            if (g < 0 || g >= X64Emitter.AH || kinds[i] == DIGIT || BlockFrame.resident(g)) continue;
            int same = -1;
            for (int j = 0; j < i; j++) if (regs[j] == g && kinds[j] != DIGIT) same = host[j];
            if (same >= 0) {
                host[i] = same;
                continue;
            }
            int s = -1;
            for (int c : SCRATCH) {
                if ((used & 1 << c) == 0) {
                    s = c;
                    break;
                }
            }
            used |= 1 << s;
            host[i] = s;
            e.push(s);
            e.load(s, BlockFrame.STATE, BlockFrame.slot(g));
        }
        return host;
    }

    /** Stores the scratch registers {@link #enter} loaded back into their guest registers' slots and pops them. */
    static void leave(X64Emitter e, int[] regs, int[] kinds, int[] host) {
        for (int i = regs.length - 1; i >= 0; i--) {
            int g = regs[i];
            if (g < 0 || g >= X64Emitter.AH || kinds[i] == DIGIT || BlockFrame.resident(g)) continue;
            boolean later = false;
            for (int j = 0; j < i; j++) later |= regs[j] == g && kinds[j] != DIGIT;
            if (later) continue; // the first occurrence stores and pops it
            e.store(BlockFrame.STATE, BlockFrame.slot(g), host[i]);
            e.pop(host[i]);
        }
    }

    private static void emit(X64Emitter e, Shape s) {
        switch (s.kind) {
            case ACCUMULATOR -> e.opReg(s.opSize, s.rmKind == BYTE_OPERAND, s.opcode, X64Emitter.RAX, s.imm);
            case OP_REG -> {
                int[] regs = {s.rm}, kinds = {s.rmKind};
                int[] host = enter(e, regs, kinds);
                e.opReg(s.opSize, s.rmKind == BYTE_OPERAND, s.opcode, host[0], s.imm);
                leave(e, regs, kinds, host);
            }
            default -> {
                int[] regs = {s.regKind == DIGIT ? -1 : s.reg, s.rm}, kinds = {s.regKind, s.rmKind};
                int[] host = enter(e, regs, kinds);
                e.regForm(s.opSize, s.twoByte, s.opcode, s.regKind, s.regKind == DIGIT ? s.reg : host[0], s.rmKind,
                        host[1], s.imm);
                leave(e, regs, kinds, host);
            }
        }
    }

    /** LEA: the same address computation on the host, or the address itself as an immediate when it is constant. */
    private static void lea(X64Emitter e, DecodedInsn d, int z) {
        if (d.base < 0 && d.index < 0) {
            long a = d.ripRel ? d.endIp + d.disp : d.disp;
            int[] regs = {d.reg}, kinds = {OPERAND};
            int[] host = enter(e, regs, kinds);
            if (z == 8) e.movImm64(host[0], a);
            else e.opReg(z, false, 0xB8, host[0], z == 4 ? new byte[] {(byte) a, (byte) (a >> 8), (byte) (a >> 16),
                    (byte) (a >> 24)} : new byte[] {(byte) a, (byte) (a >> 8)});
            leave(e, regs, kinds, host);
            return;
        }
        int[] regs = {d.reg, d.base, d.index}, kinds = {OPERAND, OPERAND, OPERAND};
        int[] host = enter(e, regs, kinds);
        e.leaSib(z, host[0], host[1], host[2], d.scale, (int) d.disp);
        leave(e, regs, kinds, host);
    }
}
