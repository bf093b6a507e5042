package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.nativecode.X64Emitter;

import static dev.flint.engine.emu.nativecode.X64Emitter.BYTE_OPERAND;
import static dev.flint.engine.emu.nativecode.X64Emitter.DIGIT;
import static dev.flint.engine.emu.nativecode.X64Emitter.OPERAND;

/**
 * The arithmetic and logic forms of the native translator beyond "Translator, part 1" (docs/emu-native.md,
 * "emuforms"): shifts and rotates (C0/C1/D0/D1/D2/D3: ROL ROR RCL RCR SHL SHR SAR, by 1, CL or an immediate), NOT,
 * NEG, MUL and one-operand IMUL (F6/F7 /2../5), IMUL r,r/m (0F AF) and r,r/m,imm (69, 6B), CMOVcc, SETcc, XCHG
 * r,r (86/87, 90+r), BSWAP r32/r64, BT/BTS/BTR/BTC r,r and r,imm, SHLD/SHRD; 64-bit mode, every operand size the
 * encoding allows. Each runs as the same x86 instruction on the host, on the guest registers that live in host
 * registers ({@code BlockFrame}), so results and flags, undefined ones included, are the host's: a count in CL is
 * guest RCX in host RCX, so the count masking is the hardware's too.
 *
 * <p>Memory operands go through {@link NativeMemoryForms} (the soft TLB, the same exit rules): {@link #access}
 * says how a form uses memory, {@link #form} gives the operands for its host instruction; DIV and IDIV (F6/F7 /6
 * /7) are described here too, but run with {@link NativeDivForms}'s #DE check before them. Not translated: XCHG with memory (locked), BT r/m,r with memory
 * (its bit offset reaches outside the operand), SHLD/SHRD of 16 bits by CL or by more than 16 (the result is
 * undefined: the interpreter and the host need not agree), BSWAP of 16 bits (undefined), MOVBE (not decoded).
 */
final class NativeAluForms {
    private NativeAluForms() {}

    /** BSWAP's marker in {@link Form#opcode} (its register is in the opcode: {@link X64Emitter#bswap}). */
    static final int BSWAP = 0x1C8;

    private static final byte[] NONE = {};
    private static final int[] NO_REGS = {}, RCX = {X64Emitter.RCX}, RAX_RDX = {X64Emitter.RAX, X64Emitter.RDX};

    /**
     * One form's host instruction: [66] [REX] [0F] {@code opcode} ModRM(reg, rm) [imm], as
     * {@link X64Emitter#regForm} / {@link X64Emitter#memForm} take it; {@code rm} is -1 for a memory operand.
     * {@code implicit} are guest registers the instruction uses without naming them (RCX for a count in CL, RAX
     * and RDX for MUL/IMUL): no scratch register may stand in for them. {@code access} is how the memory operand is
     * used ({@link NativeMemoryForms#READ} ...), {@code size} its bytes.
     */
    record Form(int opSize, boolean twoByte, int opcode, int regKind, int reg, int rmKind, int rm, byte[] imm,
                int[] implicit, int access, int size) {}

    /** True if {@code d} is a register form translated here. */
    static boolean translates(DecodedInsn d) {
        return !d.memOp && form(d) != null && !NativeDivForms.isDiv(d); // register DIV/IDIV: NativeDivForms
    }

    /** For a memory form translated here: {@code kind << 8 | size} as {@link NativeMemoryForms#access}; else 0. */
    static int access(DecodedInsn d) {
        if (!d.memOp) return 0;
        Form f = form(d);
        return f == null ? 0 : f.access << 8 | f.size;
    }

    /** The form of {@code d}, or null if it is not one translated here. */
    static Form form(DecodedInsn d) {
        Form atomic = NativeAtomicForms.form(d); // emukforms: CMPXCHG, XADD, XCHG m, LOCK NOT/NEG/BTx
        if (atomic != null) return atomic;
        if (d.lock || d.repPrefix != 0) return null;
        if (d.memOp && !d.hasModrm) return null;
        int op = d.opcode, z = d.opSize, ext = d.reg & 7;
        boolean mem = d.memOp;
        if (d.twoByte) {
            if (op >= 0x40 && op <= 0x4F) return regRm(d, z, op, NONE, NativeMemoryForms.READ); // CMOVcc
            if (op == 0xAF) return regRm(d, z, op, NONE, NativeMemoryForms.READ);                // IMUL r, r/m
            if (op >= 0x90 && op <= 0x9F) { // SETcc r/m8 (ModRM.reg is ignored: /0 on the host)
                return digit(d, 1, true, op, 0, NONE, NO_REGS, NativeMemoryForms.WRITE);
            }
            if (op >= 0xC8 && op <= 0xCF) { // BSWAP r32/r64
                if (z == 2 || mem) return null;
                return new Form(z, true, BSWAP, DIGIT, 0, OPERAND, (op & 7) | d.rexB, NONE, NO_REGS, 0, z);
            }
            if (op == 0xA3 || op == 0xAB || op == 0xB3 || op == 0xBB) { // BT/BTS/BTR/BTC r/m, r: registers only
                return mem ? null : regRm(d, z, op, NONE, 0);
            }
            if (op == 0xBA && ext >= 4) { // BT/BTS/BTR/BTC r/m, imm8: the offset stays inside the operand
                return digit(d, z, true, op, ext, NativeTranslator.imm(d, 1), NO_REGS,
                        ext == 4 ? NativeMemoryForms.READ : NativeMemoryForms.READ_WRITE);
            }
            if (op == 0xA4 || op == 0xAC) { // SHLD/SHRD r/m, r, imm8
                byte[] imm = NativeTranslator.imm(d, 1);
                if (z == 2 && (imm[0] & 31) > 16) return null;
                return regRm(d, z, op, imm, NativeMemoryForms.READ_WRITE);
            }
            if (op == 0xA5 || op == 0xAD) { // SHLD/SHRD r/m, r, CL
                if (z == 2) return null;
                Form f = regRm(d, z, op, NONE, NativeMemoryForms.READ_WRITE);
                return new Form(f.opSize, true, op, f.regKind, f.reg, f.rmKind, f.rm, NONE, RCX, f.access, f.size);
            }
            return null;
        }
        switch (op) {
            case 0xC0, 0xC1, 0xD0, 0xD1, 0xD2, 0xD3 -> { // ROL ROR RCL RCR SHL SHR SAL(= SHL) SAR
                boolean bytes = (op & 1) == 0;
                byte[] imm = op <= 0xC1 ? NativeTranslator.imm(d, 1) : NONE;
                return digit(d, bytes ? 1 : z, false, op, ext == 6 ? 4 : ext, imm, op >= 0xD2 ? RCX : NO_REGS,
                        NativeMemoryForms.READ_WRITE);
            }
            case 0xF6, 0xF7 -> { // NOT NEG MUL IMUL; DIV IDIV (emudiv: NativeDivForms checks them first)
                if (ext < 2) return null;
                int size = op == 0xF6 ? 1 : z;
                return ext <= 3 ? digit(d, size, false, op, ext, NONE, NO_REGS, NativeMemoryForms.READ_WRITE)
                        : digit(d, size, false, op, ext, NONE, RAX_RDX, NativeMemoryForms.READ);
            }
            case 0x69 -> { return regRm(d, z, op, NativeTranslator.imm(d, z == 2 ? 2 : 4), NativeMemoryForms.READ); }
            case 0x6B -> { return regRm(d, z, op, NativeTranslator.imm(d, 1), NativeMemoryForms.READ); }
            case 0x86, 0x87 -> { // XCHG r, r (with memory it is locked: left to Java)
                if (mem) return null;
                boolean bytes = op == 0x86;
                int kind = bytes ? BYTE_OPERAND : OPERAND;
                return new Form(bytes ? 1 : z, false, op, kind, bytes ? NativeTranslator.byteReg(d, d.reg) : d.reg, kind,
                        bytes ? NativeTranslator.byteReg(d, d.rm) : d.rm, NONE, NO_REGS, 0, 0);
            }
            case 0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97 -> { // XCHG rAX, r (90 without REX.B is NOP)
                int r = (op & 7) | d.rexB;
                if (r == 0) return null;
                return new Form(z, false, 0x87, OPERAND, X64Emitter.RAX, OPERAND, r, NONE, NO_REGS, 0, 0);
            }
            default -> { return null; }
        }
    }

    /** op reg, r/m (ModRM.reg a full register) of {@code size} bytes. */
    private static Form regRm(DecodedInsn d, int size, int op, byte[] imm, int access) {
        return new Form(size, d.twoByte, op, OPERAND, d.reg, OPERAND, d.memOp ? -1 : d.rm, imm, NO_REGS, access, size);
    }

    /** op /digit r/m of {@code size} bytes (a byte register as the emitter numbers it for size 1). */
    private static Form digit(DecodedInsn d, int size, boolean twoByte, int op, int digit, byte[] imm, int[] implicit,
                              int access) {
        int kind = size == 1 ? BYTE_OPERAND : OPERAND;
        int rm = d.memOp ? -1 : size == 1 ? NativeTranslator.byteReg(d, d.rm) : d.rm;
        return new Form(size, twoByte, op, DIGIT, digit, kind, rm, imm, implicit, access, size);
    }

    /** Emits register form {@code d} (one {@link #translates} accepts). */
    static void emit(X64Emitter e, DecodedInsn d) {
        Form f = form(d);
        int[] regs = new int[2 + f.implicit.length], kinds = new int[regs.length];
        regs[0] = f.regKind == DIGIT ? -1 : f.reg;
        kinds[0] = f.regKind;
        regs[1] = f.rm;
        kinds[1] = f.rmKind;
        for (int i = 0; i < f.implicit.length; i++) {
            regs[2 + i] = f.implicit[i]; // named so that no scratch register is taken from them; never loaded
            kinds[2 + i] = DIGIT;
        }
        int[] host = NativeTranslator.enter(e, regs, kinds);
        if (f.opcode == BSWAP) e.bswap(f.opSize, host[1]);
        else e.regForm(f.opSize, f.twoByte, f.opcode, f.regKind, f.regKind == DIGIT ? f.reg : host[0], f.rmKind, host[1], f.imm);
        NativeTranslator.leave(e, regs, kinds, host);
    }
}
