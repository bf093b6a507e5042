package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.nativecode.X64Emitter;

import static dev.flint.engine.emu.nativecode.X64Emitter.BYTE_OPERAND;
import static dev.flint.engine.emu.nativecode.X64Emitter.DIGIT;
import static dev.flint.engine.emu.nativecode.X64Emitter.OPERAND;

/**
 * The atomic forms of the native translator (docs/emu-native.md, "emukforms"): CMPXCHG and XADD (0F B0/B1,
 * 0F C0/C1; register and memory operands, with or without LOCK), XCHG with memory (86/87, implicitly locked), and
 * the LOCK forms of the read-modify-writes the memory forms already run (ADD OR ADC SBB AND SUB XOR r/m,r and
 * r/m,imm; INC/DEC; NOT/NEG; BTS/BTR/BTC r/m,imm8); 64-bit mode, every operand size. Each runs as the guest's own
 * instruction on the host address the soft TLB gives ({@link NativeMemoryForms}), with a host LOCK prefix where
 * the guest has one (XCHG locks itself), so the update is atomic in the hardware's sense.
 *
 * <p>Why that is atomic against a vCPU in the JVM tiers: those make LOCK'd updates and XCHG with
 * {@code Mmu.compareAndSwap}, a VarHandle {@code compareAndSet} on the guest-RAM segment, which on this host is a
 * LOCK CMPXCHG on the same host address (a 1- or 2-byte operand: on its naturally aligned 4-byte word). x86 orders
 * every locked access to a cache line against every other, whatever its size, so a native locked update and a
 * Java CAS never interleave. What the JVM tiers do under a Java lock instead ({@code Mmu}'s split lock: an
 * operand that crosses a page or is not inside one aligned host word; CMPXCHG16B) is not something host code
 * can join, so here an atomic access that is not naturally aligned exits to Java before it (nothing done), and
 * CMPXCHG8B/16B are not translated. BT/BTS/BTR/BTC with a register bit offset and a memory operand are not
 * translated either (the offset reaches outside the operand).
 */
final class NativeAtomicForms {
    private NativeAtomicForms() {}

    private static final byte[] NONE = {};
    private static final int[] NO_REGS = {}, RAX = {X64Emitter.RAX};

    /**
     * The form of {@code d} when it is one of this class's ({@link NativeAluForms#form} asks here first), else
     * null. LOCK'd ALU/INC/DEC forms are not described here: {@link NativeMemoryForms} runs them as its own forms,
     * with {@link #lockable} letting the prefix through and {@link #beforeAccess} adding it.
     */
    static NativeAluForms.Form form(DecodedInsn d) {
        if (d.repPrefix != 0 || d.memOp && !d.hasModrm) return null;
        if (d.lock && !d.memOp) return null; // #UD: the decoder raises it, never translated
        int op = d.opcode, z = d.opSize, ext = d.reg & 7;
        if (d.twoByte) {
            if (op == 0xB0 || op == 0xB1 || op == 0xC0 || op == 0xC1) { // CMPXCHG (RAX implicit), XADD
                return regRm(d, (op & 1) == 0, op, op <= 0xB1 ? RAX : NO_REGS);
            }
            if (op == 0xBA && ext >= 5 && d.lock) { // LOCK BTS/BTR/BTC m, imm8
                return new NativeAluForms.Form(z, true, op, DIGIT, ext, OPERAND, -1, NativeTranslator.imm(d, 1), NO_REGS,
                        NativeMemoryForms.READ_WRITE, z);
            }
            return null;
        }
        if ((op == 0x86 || op == 0x87) && d.memOp) return regRm(d, op == 0x86, op, NO_REGS); // XCHG m, r
        if ((op == 0xF6 || op == 0xF7) && (ext == 2 || ext == 3) && d.lock) { // LOCK NOT/NEG m
            int size = op == 0xF6 ? 1 : z;
            return new NativeAluForms.Form(size, false, op, DIGIT, ext, size == 1 ? BYTE_OPERAND : OPERAND, -1, NONE,
                    NO_REGS, NativeMemoryForms.READ_WRITE, size);
        }
        return null;
    }

    /** op r/m, r with ModRM.reg a register of the operand's size (AH..BH numbered as the emitter has them). */
    private static NativeAluForms.Form regRm(DecodedInsn d, boolean bytes, int op, int[] implicit) {
        int size = bytes ? 1 : d.opSize, kind = bytes ? BYTE_OPERAND : OPERAND;
        int reg = bytes ? NativeTranslator.byteReg(d, d.reg) : d.reg;
        int rm = d.memOp ? -1 : bytes ? NativeTranslator.byteReg(d, d.rm) : d.rm;
        return new NativeAluForms.Form(size, d.twoByte, op, kind, reg, kind, rm, NONE, implicit,
                NativeMemoryForms.READ_WRITE, size);
    }

    /** True if {@code d} has a LOCK prefix on a memory form the native tier runs (the decoder refuses the others). */
    static boolean lockable(DecodedInsn d) {
        if (!d.lock || !d.memOp) return false;
        int op = d.opcode, ext = d.reg & 7;
        if (d.twoByte) return form(d) != null;
        if (op < 0x40 && (op & 7) <= 1) return op >> 3 != 7;                 // ALU m, r (not CMP)
        if (op == 0x80 || op == 0x81 || op == 0x83) return ext != 7;          // ALU m, imm (not CMP)
        if (op == 0xFE || op == 0xFF) return ext <= 1;                        // INC, DEC
        return form(d) != null;                                               // NOT NEG, XCHG
    }

    /** True if the host runs {@code d}'s memory access as a locked one (a LOCK prefix, or XCHG with memory). */
    static boolean atomic(DecodedInsn d) {
        return d.memOp && (d.lock || !d.twoByte && (d.opcode == 0x86 || d.opcode == 0x87));
    }

    /**
     * Emitted after the soft-TLB probe hit (flags saved in AX, address in {@code addr}) for an {@link #atomic}
     * access: an operand not naturally aligned jumps to {@code miss} (the probe's own exit stub: nothing done,
     * Java runs the instruction with its split lock).
     */
    static void checkAligned(X64Emitter e, DecodedInsn d, int size, int addr, X64Emitter.Label miss) {
        if (!atomic(d) || size == 1) return;
        e.testByte(addr, size - 1);
        e.jcc(X64Emitter.CC_NZ, miss);
    }

    /** Emitted right before the guest's instruction on the host address: the LOCK prefix when the guest has one. */
    static void beforeAccess(X64Emitter e, DecodedInsn d) {
        if (d.lock) e.lockPrefix();
    }
}
