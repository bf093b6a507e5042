package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.mmu.NativeTlb;
import dev.flint.engine.emu.nativecode.BlockFrame;
import dev.flint.engine.emu.nativecode.NativeState;
import dev.flint.engine.emu.nativecode.X64Emitter;

import java.util.ArrayList;
import java.util.List;

import static dev.flint.engine.emu.nativecode.X64Emitter.BYTE_OPERAND;
import static dev.flint.engine.emu.nativecode.X64Emitter.DIGIT;
import static dev.flint.engine.emu.nativecode.X64Emitter.OPERAND;
import static dev.flint.engine.emu.nativecode.X64Emitter.RAX;

/**
 * The memory forms of the native translator (docs/emu-native.md, "emumem"): instructions with one ModRM memory
 * operand, run through the soft TLB ({@link NativeTlb}). Translated, with 64-bit addressing and any segment (none,
 * ES, CS, SS, DS have base 0 in 64-bit mode; FS and GS add their base from the native state, "emufsgs"): MOV
 * r,[m] / [m],r / [m],imm; MOVZX, MOVSX, MOVSXD r,[m]; ADD OR ADC SBB AND SUB XOR CMP with r,[m], [m],r and
 * [m],imm (read-modify-write); TEST [m],r and [m],imm; INC/DEC [m]; at 8, 16, 32 and 64 bits.
 *
 * <p>Per access: the linear address is computed into a scratch register with LEA (flags untouched), the flags
 * are saved in AX, the probe ({@link X64Emitter#tlbAddend}) finds the host address as linear address + addend
 * (the read row for reads, the write row and the page's code mark for stores and read-modify-writes: a
 * writable page is readable, so one probe covers both), and then the guest's own instruction runs with its
 * memory operand replaced by [address + addend]: the host computes the result and all six flags as the guest's
 * instruction defines them. A miss, a store into a page of decoded code, a page-crossing access, a page that is
 * not RAM or not writable leave through an exit stub out of line: flags back from AX, scratch registers popped,
 * the block exits with RIP at the instruction and the instructions before it counted; nothing of the instruction
 * happened, so Java runs it (walk, fault with the right error code, TLB refill, code-page version bump), and the
 * block's next run hits.
 *
 * <p>Flags on the hit path: restored from AX only where they are live. They are dead when the instruction
 * itself writes all six without reading any (ALU except ADC/SBB, CMP, TEST) or when the next such writer among
 * the following translated instructions comes before anything that reads them; every exit (a JCC, JMP, the end
 * of the translation, another memory access's exit stub) reads them. The miss path always restores them:
 * Java may raise a page fault there, which pushes RFLAGS.
 *
 * <p>Guest registers live in host registers ({@link BlockFrame}), so every scratch register is a guest register
 * that the instruction does not use, pushed and popped around the access (push, pop, LEA and MOV leave the flags
 * alone).
 */
final class NativeMemoryForms {
    /** How an instruction uses its memory operand: only reads it, only writes it, or both. */
    static final int READ = 1, WRITE = 2, READ_WRITE = 3;

    /** Scratch candidates, low registers first (a byte register AH..BH needs a base and index without REX). */
    static final int[] CANDIDATES = {X64Emitter.RCX, X64Emitter.RDX, X64Emitter.RBX, X64Emitter.RSI,
            X64Emitter.RDI, X64Emitter.RBP, X64Emitter.R8, X64Emitter.R9, X64Emitter.R10, X64Emitter.R11,
            X64Emitter.R12, X64Emitter.R13, X64Emitter.R14};

    private final X64Emitter e;
    private final BlockFrame frame;
    private final long tlb;
    private final DecodedInsn[] insns;
    private final int translated;
    private final List<Runnable> stubs = new ArrayList<>();

    /**
     * Forms for one translation: {@code insns[0..translated)} are the instructions translated, {@code tlb} the
     * address of the vCPU's {@link NativeTlb} (its header: row pointers and code bias).
     */
    NativeMemoryForms(X64Emitter e, BlockFrame frame, long tlb, DecodedInsn[] insns, int translated) {
        this.e = e;
        this.frame = frame;
        this.tlb = tlb;
        this.insns = insns;
        this.translated = translated;
    }

    /**
     * What {@code d} does with memory, as {@code kind << 8 | size} ({@link #READ}, {@link #WRITE},
     * {@link #READ_WRITE}; size 1, 2, 4, 8 bytes), or 0 if it is not a memory form translated here.
     */
    static int access(DecodedInsn d) {
        if (!d.hasModrm || !d.memOp || d.lock && !NativeAtomicForms.lockable(d) || d.repPrefix != 0 || d.adSize != 8) return 0;
        if (d.base >= 0 || d.index >= 0) {
            if (d.ripRel || d.disp != (int) d.disp) return 0;
        }
        int op = d.opcode, z = d.opSize, ext = d.reg & 7;
        if (d.twoByte) {
            return switch (op) {
                case 0xB6, 0xBE -> READ << 8 | 1;
                case 0xB7, 0xBF -> READ << 8 | 2;
                default -> NativeAluForms.access(d); // CMOVcc, SETcc, IMUL, BT r/m,imm, SHLD/SHRD (emuforms)
            };
        }
        if (op < 0x40 && (op & 7) <= 3) {
            boolean read = (op & 2) != 0 || (op & 0x38) == 0x38; // reg, r/m forms and CMP only read
            return (read ? READ : READ_WRITE) << 8 | ((op & 1) == 0 ? 1 : z);
        }
        return switch (op) {
            case 0x84, 0x8A -> READ << 8 | 1;
            case 0x85, 0x8B -> READ << 8 | z;
            case 0x88 -> WRITE << 8 | 1;
            case 0x89 -> WRITE << 8 | z;
            case 0x80 -> (ext == 7 ? READ : READ_WRITE) << 8 | 1;
            case 0x81, 0x83 -> (ext == 7 ? READ : READ_WRITE) << 8 | z;
            case 0xF6 -> ext == 0 ? READ << 8 | 1 : NativeAluForms.access(d); // NOT NEG MUL IMUL: emuforms
            case 0xF7 -> ext == 0 ? READ << 8 | z : NativeAluForms.access(d);
            case 0xC6 -> ext == 0 ? WRITE << 8 | 1 : 0;
            case 0xC7 -> ext == 0 ? WRITE << 8 | z : 0;
            case 0xFE -> ext <= 1 ? READ_WRITE << 8 | 1 : 0;
            case 0xFF -> ext <= 1 ? READ_WRITE << 8 | z : 0;
            case 0x63 -> READ << 8 | (z == 8 ? 4 : z);
            default -> NativeAluForms.access(d); // shifts, rotates, NOT NEG MUL IMUL (emuforms)
        };
    }

    /** How an instruction treats the six arithmetic flags (for the liveness scan). */
    private static final int FLAGS_NONE = 0, FLAGS_WRITE_ALL = 1, FLAGS_READ = 2;

    /**
     * Flag use of a translated instruction: MOV, MOVZX/MOVSX/MOVSXD, LEA and NOP leave them alone; ALU (but ADC,
     * SBB), CMP and TEST write all six without reading any; everything else (ADC, SBB, INC/DEC, which keep CF,
     * branches) counts as reading them.
     */
    private static int flagUse(DecodedInsn d) {
        int op = d.opcode, ext = d.reg & 7;
        if (d.fast == FastPath.JCC || d.fast == FastPath.JMP) return FLAGS_READ;
        if (d.twoByte) {
            return op == 0x1F || op == 0xB6 || op == 0xB7 || op == 0xBE || op == 0xBF ? FLAGS_NONE : FLAGS_READ;
        }
        if (op < 0x40 && (op & 7) <= 5) {
            int alu = op >> 3;
            return alu == 2 || alu == 3 ? FLAGS_READ : FLAGS_WRITE_ALL;
        }
        return switch (op) {
            case 0x80, 0x81, 0x83 -> ext == 2 || ext == 3 ? FLAGS_READ : FLAGS_WRITE_ALL;
            case 0x84, 0x85, 0xA8, 0xA9 -> FLAGS_WRITE_ALL;
            case 0xF6, 0xF7 -> ext == 0 ? FLAGS_WRITE_ALL : FLAGS_READ;
            case 0x88, 0x89, 0x8A, 0x8B, 0x8D, 0x63, 0x90, 0xC6, 0xC7 -> FLAGS_NONE;
            default -> op >= 0xB0 && op <= 0xBF ? FLAGS_NONE : FLAGS_READ;
        };
    }

    /**
     * True if the flags as they were before instruction {@code i} must still hold after its probe on the hit
     * path: the instruction reads them, or it leaves them alone and a later reader (any exit included) comes
     * before the next instruction that writes all six.
     */
    boolean flagsLiveAfterProbe(int i) {
        int own = flagUse(insns[i]);
        if (own != FLAGS_NONE) return own == FLAGS_READ;
        for (int j = i + 1; j < translated; j++) {
            if (access(insns[j]) != 0) return true; // its exit stub hands the flags to Java
            int use = flagUse(insns[j]);
            if (use == FLAGS_READ) return true;
            if (use == FLAGS_WRITE_ALL && !insns[j].memOp) return false;
        }
        return true; // the block's exit stores them
    }

    /** Emits memory instruction {@code i} (one {@link #access} accepts) and queues its exit stub. */
    void emit(int i) {
        DecodedInsn d = insns[i];
        int access = access(d), size = access & 0xFF;
        boolean write = access >> 8 != READ;
        int op = d.opcode, ext = d.reg & 7;
        // The register operand as the emitter names it.
        int regKind, reg, opSize;
        byte[] imm = NONE;
        int[] implicit = {};
        NativeAluForms.Form alu = NativeAluForms.form(d); // the emuforms forms describe themselves
        boolean digit = alu == null && ( !d.twoByte && (op == 0x80 || op == 0x81 || op == 0x83 || op == 0xF6 || op == 0xF7
                || op == 0xC6 || op == 0xC7 || op == 0xFE || op == 0xFF));
        if (alu != null) {
            regKind = alu.regKind();
            reg = alu.reg();
            imm = alu.imm();
            implicit = alu.implicit(); // RCX (a count in CL), RAX/RDX (MUL): never a scratch register
        } else if (digit) {
            regKind = DIGIT;
            reg = ext;
            int immSize = switch (op) {
                case 0x80, 0x83, 0xF6, 0xC6 -> 1;
                case 0x81, 0xF7, 0xC7 -> d.opSize == 2 ? 2 : 4;
                default -> 0;
            };
            imm = NativeTranslator.imm(d, immSize);
        } else if (!d.twoByte && op != 0x63 && (op & 1) == 0) {
            regKind = BYTE_OPERAND;
            reg = NativeTranslator.byteReg(d, d.reg);
        } else {
            regKind = OPERAND;
            reg = d.reg;
        }
        opSize = alu != null ? alu.opSize() : !d.twoByte && op != 0x63 && (op & 1) == 0 ? 1 : d.opSize;

        int[] regs = new int[3 + implicit.length], kinds = new int[regs.length];
        regs[0] = regKind == DIGIT ? -1 : reg;
        regs[1] = d.base;
        regs[2] = d.index;
        kinds[0] = regKind;
        for (int j = 0; j < implicit.length; j++) {
            regs[3 + j] = implicit[j]; // only named: marks them used, never loaded (DIGIT)
            kinds[3 + j] = DIGIT;
        }
        int[] host = NativeTranslator.enter(e, regs, kinds);
        int used = 1 << RAX | 1 << X64Emitter.RSP | 1 << X64Emitter.R15;
        for (int h : host) if (h >= 0) used |= 1 << (h >= X64Emitter.AH ? h - X64Emitter.AH : h);
        int[] scratch = new int[4]; // address, addend, page, TLB
        int k = 0;
        for (int c : CANDIDATES) {
            if (k < 4 && (used & 1 << c) == 0) scratch[k++] = c;
        }
        int a = scratch[0], s2 = scratch[1], s1 = scratch[2], t = scratch[3];
        e.push(a);
        e.push(s1);
        e.push(s2);
        e.push(t);
        if (d.base < 0 && d.index < 0) e.movImm64(a, d.ripRel ? d.endIp + d.disp : d.disp);
        else e.leaSib(8, a, host[1], host[2], d.scale, (int) d.disp);
        if (d.seg == CpuState.FS || d.seg == CpuState.GS) {
            // 64-bit mode: linear = base + effective address, mod 2^64 (MOV and LEA keep the flags). A
            // non-canonical sum is in no TLB entry, so it misses and Java raises the #GP.
            e.load(s1, BlockFrame.STATE, d.seg == CpuState.FS ? NativeState.FS_BASE : NativeState.GS_BASE);
            e.leaSib(8, a, a, s1, 0, 0);
        }
        e.movImm64(t, tlb);
        e.push(RAX);
        X64Emitter.Label miss = new X64Emitter.Label();
        e.tlbAddend(size, a, t, write ? NativeTlb.WRITE_ROW : NativeTlb.READ_ROW, write ? NativeTlb.CODE_BIAS : -1,
                NativeTlb.INDEX_MASK, s1, s2, true, miss, miss);
        if (NativeDivForms.isDiv(d)) NativeDivForms.checkMemory(e, d, s1, t, a, s2, miss); // #DE: Java raises it
        NativeAtomicForms.checkAligned(e, d, size, a, miss); // emukforms: a locked access not aligned: Java's
        if (flagsLiveAfterProbe(i)) e.restoreFlagsFromAx();
        e.pop(RAX);
        if (NativeDivForms.isDiv(d)) { // by the divisor checked, in t: memory may change under a second read
            e.regForm(opSize, false, op, DIGIT, d.reg & 7, opSize == 1 ? BYTE_OPERAND : OPERAND, t, NONE);
        } else {
            NativeAtomicForms.beforeAccess(e, d); // emukforms: LOCK
            e.memForm(opSize, d.twoByte, op, regKind, regKind == DIGIT ? reg : host[0], a, s2, imm);
        }
        e.pop(t);
        e.pop(s2);
        e.pop(s1);
        e.pop(a);
        NativeTranslator.leave(e, regs, kinds, host);
        stubs.add(() -> {
            e.bind(miss);
            e.restoreFlagsFromAx();
            e.pop(RAX);
            e.pop(t);
            e.pop(s2);
            e.pop(s1);
            e.pop(a);
            NativeTranslator.leave(e, regs, kinds, host); // unchanged registers: stores the values they had
            frame.exit(d.rip, i, BlockFrame.EXIT_STOP, false); // Java must do the access first: never chained
        });
    }

    /** Emits the queued exit stubs (after the block's straight-line code, before the frame's common tail). */
    void emitStubs() {
        for (Runnable r : stubs) r.run();
        stubs.clear();
    }

    private static final byte[] NONE = {};
}
