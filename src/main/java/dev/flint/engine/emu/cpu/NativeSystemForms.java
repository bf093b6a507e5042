package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.nativecode.X64Emitter;

/**
 * Register-only forms of the native translator that the kernel's blocks stopped at (docs/emu-native.md,
 * "emukforms"): CBW/CWDE/CDQE (98) and CWD/CDQ/CQO (99), run as the same instruction on host RAX/RDX (guest RAX
 * and RDX live there); PREFETCHh and the other hint NOPs 0F 18../0F 1B (no access, no fault: the interpreter
 * decodes their ModRM and does nothing, and so does this: nothing is emitted); LFENCE/MFENCE/SFENCE (0F AE /5 /6
 * /7, register form), run as the same fence on the host (the interpreter makes a full fence for each). None of
 * them reads or writes the arithmetic flags.
 *
 * <p>Not here, and why (the brief's other rows): PUSHF/POPF, CLI/STI, MOV r,Sreg and RDTSC read or write state
 * that the native state does not hold (IF/TF/AC/DF and IOPL, the selectors, the TSC's offset and scaling), so
 * they stay in Java.
 */
final class NativeSystemForms {
    private NativeSystemForms() {}

    /** True if {@code d} is one of the forms above. */
    static boolean translates(DecodedInsn d) {
        if (d.lock || d.repPrefix != 0) return false;
        int op = d.opcode;
        if (!d.twoByte) return (op == 0x98 || op == 0x99) && d.opSize != 1;
        if (op >= 0x18 && op <= 0x1B) return d.hasModrm && (d.adSize == 8 || !d.memOp); // hint NOPs, no access
        return op == 0xAE && fence(d) >= 5; // the fences
    }

    /**
     * For 0F AE: the fence's /digit (5 LFENCE, 6 MFENCE, 7 SFENCE) when the ModRM byte, the instruction's last
     * (the interpreter reads it without decoding a ModRM: {@code SystemInstructions.group15}), has mod 11; else -1.
     */
    private static int fence(DecodedInsn d) {
        if (d.opcode != 0xAE || !d.twoByte || d.length < 3 || d.memOp) return -1;
        byte[] last = NativeTranslator.imm(d, 2); // AE, then the ModRM as the last byte: no displacement after it
        if ((last[0] & 0xFF) != 0xAE) return -1;
        int modrm = last[1] & 0xFF;
        return modrm >> 6 == 3 && (modrm >> 3 & 7) >= 5 ? modrm >> 3 & 7 : -1;
    }

    /** Emits {@code d} (one {@link #translates} accepts). */
    static void emit(X64Emitter e, DecodedInsn d) {
        int op = d.opcode;
        if (!d.twoByte) e.accumulatorExtend(op, d.opSize);
        else if (op == 0xAE) e.fence(fence(d));
        // 0F 18..1B: nothing to do
    }
}
