package dev.flint.engine.emu.diff;

import java.io.ByteArrayOutputStream;

/**
 * Machine code that runs one sequence on the host CPU: a SysV-callable function without arguments that
 * saves the callee-saved registers, loads the whole input state from the state page, falls into the
 * sequence, stores the whole output state and returns. Every state access is RIP-relative, so the
 * harness needs no free register and the sequence sees all 16 GPRs (RSP included) exactly as given.
 *
 * <p>Loads and stores use MOV/MOVDQU/LDMXCSR/STMXCSR, none of which touch RFLAGS, so the flags the
 * sequence leaves are exactly what PUSHFQ sees after RSP is restored.
 */
final class NativeHarness {
    // Offsets inside the state page.
    static final int IN_GPR = 0x000, IN_FLAGS = 0x080, IN_MXCSR = 0x088, SAVED_RSP = 0x090, SAVED_MXCSR = 0x098;
    static final int IN_XMM = 0x100;
    static final int OUT_GPR = 0x200, OUT_FLAGS = 0x280, OUT_MXCSR = 0x288;
    static final int OUT_XMM = 0x300;

    private final Layout layout;
    private final ByteArrayOutputStream code = new ByteArrayOutputStream();

    private NativeHarness(Layout layout) {
        this.layout = layout;
    }

    /** The code page contents for {@code sequence}: prologue at offset 0, sequence at its fixed offset. */
    static byte[] build(Layout layout, byte[] sequence) {
        if (sequence.length > Layout.MAX_SEQUENCE) {
            throw new IllegalArgumentException("sequence too long: " + sequence.length);
        }
        return new NativeHarness(layout).assemble(sequence);
    }

    private byte[] assemble(byte[] sequence) {
        // push rbx, rbp, r12-r15
        emit(0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57);
        ripRel(new int[] {0x48, 0x89}, 4, SAVED_RSP, 0);        // mov [saved_rsp], rsp
        ripRel(new int[] {0x0F, 0xAE}, 3, SAVED_MXCSR, 0);      // stmxcsr [saved_mxcsr]
        ripRel(new int[] {0x0F, 0xAE}, 2, IN_MXCSR, 0);         // ldmxcsr [in_mxcsr]
        for (int i = 0; i < 16; i++) {                          // movdqu xmmI, [in_xmm + 16*i]
            ripRel(sse(0xF3, i, 0x6F), i & 7, IN_XMM + 16 * i, 0);
        }
        ripRel(new int[] {0xFF}, 6, IN_FLAGS, 0);               // push qword [in_flags]
        emit(0x9D);                                             // popfq
        for (int i = 0; i < 16; i++) {                          // mov rI, [in_gpr + 8*i]; RSP too
            ripRel(new int[] {0x48 | (i >> 3) << 2, 0x8B}, i & 7, IN_GPR + 8 * i, 0);
        }
        int jumpFrom = code.size() + 5;
        int rel = Layout.SEQUENCE_OFFSET - jumpFrom;
        emit(0xE9);                                             // jmp sequence
        emitLe(rel, 4);
        while (code.size() < Layout.SEQUENCE_OFFSET) {
            emit(0xCC);
        }
        code.writeBytes(sequence);
        for (int i = 0; i < 16; i++) {                          // mov [out_gpr + 8*i], rI
            ripRel(new int[] {0x48 | (i >> 3) << 2, 0x89}, i & 7, OUT_GPR + 8 * i, 0);
        }
        for (int i = 0; i < 16; i++) {                          // movdqu [out_xmm + 16*i], xmmI
            ripRel(sse(0xF3, i, 0x7F), i & 7, OUT_XMM + 16 * i, 0);
        }
        ripRel(new int[] {0x0F, 0xAE}, 3, OUT_MXCSR, 0);        // stmxcsr [out_mxcsr]
        ripRel(new int[] {0x48, 0x8B}, 4, SAVED_RSP, 0);        // mov rsp, [saved_rsp]
        emit(0x9C, 0x58);                                       // pushfq; pop rax
        ripRel(new int[] {0x48, 0x89}, 0, OUT_FLAGS, 0);        // mov [out_flags], rax
        ripRel(new int[] {0x0F, 0xAE}, 2, SAVED_MXCSR, 0);      // ldmxcsr [saved_mxcsr]
        emit(0xFC);                                             // cld: the ABI wants DF=0 on return
        emit(0x41, 0x5F, 0x41, 0x5E, 0x41, 0x5D, 0x41, 0x5C, 0x5D, 0x5B, 0xC3);
        if (code.size() > Layout.CODE_SIZE) {
            throw new IllegalStateException("harness overflows the code page");
        }
        return code.toByteArray();
    }

    /** Mandatory prefix, REX.R for xmm8-15 (REX goes after the prefix), 0F, opcode. */
    private static int[] sse(int prefix, int xmm, int opcode) {
        return xmm >= 8 ? new int[] {prefix, 0x44, 0x0F, opcode} : new int[] {prefix, 0x0F, opcode};
    }

    /** Emits opcode bytes, a ModRM selecting RIP+disp32 with {@code reg}, the displacement, trailing immediate bytes. */
    private void ripRel(int[] opcode, int reg, int stateOffset, int immBytes) {
        emit(opcode);
        emit(((reg & 7) << 3) | 5);
        long next = layout.code() + code.size() + 4 + immBytes;
        long disp = layout.state() + stateOffset - next;
        emitLe(disp, 4);
    }

    private void emit(int... bytes) {
        for (int b : bytes) {
            code.write(b);
        }
    }

    private void emitLe(long v, int n) {
        for (int i = 0; i < n; i++) {
            code.write((int) (v >>> (8 * i)));
        }
    }
}
