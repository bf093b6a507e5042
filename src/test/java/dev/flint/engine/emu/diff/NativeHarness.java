package dev.flint.engine.emu.diff;

import java.io.ByteArrayOutputStream;

/**
 * Machine code that runs one sequence on the host CPU. The prologue (its own page, the entry point of a
 * SysV-callable function without arguments) saves the callee-saved registers, RSP and MXCSR, loads the
 * whole input state from the state page and jumps to the sequence. The epilogue, placed right after
 * the sequence, stores the whole output state, restores and returns. Every state access is
 * RIP-relative, so the harness needs no free register and the sequence sees all 16 GPRs (RSP included)
 * exactly as given.
 *
 * <p>Loads and stores use MOV/MOVDQU/LDMXCSR/STMXCSR, none of which touch RFLAGS, so the flags the
 * sequence leaves are exactly what PUSHFQ sees once RSP is back on the JVM stack.
 */
final class NativeHarness {
    // Offsets inside the state page.
    static final int IN_GPR = 0x000, IN_FLAGS = 0x080, IN_MXCSR = 0x088, SAVED_RSP = 0x090, SAVED_MXCSR = 0x098;
    static final int IN_XMM = 0x100;
    static final int OUT_GPR = 0x200, OUT_FLAGS = 0x280, OUT_MXCSR = 0x288;
    static final int OUT_XMM = 0x300;

    /** The two code pages: the sequence followed by the epilogue, and the prologue. */
    record Code(byte[] sequencePage, byte[] prologuePage) {}

    private final long stateBase;
    private final long origin;
    private final ByteArrayOutputStream code = new ByteArrayOutputStream();

    private NativeHarness(long stateBase, long origin) {
        this.stateBase = stateBase;
        this.origin = origin;
    }

    static Code build(Layout layout, byte[] sequence) {
        if (sequence.length > Layout.MAX_SEQUENCE) {
            throw new IllegalArgumentException("sequence too long: " + sequence.length);
        }
        NativeHarness pro = new NativeHarness(layout.state(), layout.prologue());
        pro.prologue(layout.sequenceStart());
        NativeHarness seq = new NativeHarness(layout.state(), layout.sequenceStart());
        seq.code.writeBytes(sequence);
        seq.epilogue();
        return new Code(seq.code.toByteArray(), pro.code.toByteArray());
    }

    private void prologue(long sequenceStart) {
        emit(0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57); // push rbx, rbp, r12-r15
        ripRel(new int[] {0x48, 0x89}, 4, SAVED_RSP);               // mov [saved_rsp], rsp
        ripRel(new int[] {0x0F, 0xAE}, 3, SAVED_MXCSR);             // stmxcsr [saved_mxcsr]
        ripRel(new int[] {0x0F, 0xAE}, 2, IN_MXCSR);                // ldmxcsr [in_mxcsr]
        for (int i = 0; i < 16; i++) {                              // movdqu xmmI, [in_xmm + 16*i]
            ripRel(movdqu(i, 0x6F), i & 7, IN_XMM + 16 * i);
        }
        ripRel(new int[] {0xFF}, 6, IN_FLAGS);                      // push qword [in_flags]
        emit(0x9D);                                                 // popfq
        for (int i = 0; i < 16; i++) {                              // mov rI, [in_gpr + 8*i], RSP included
            ripRel(new int[] {0x48 | (i >> 3) << 2, 0x8B}, i & 7, IN_GPR + 8 * i);
        }
        long rel = sequenceStart - (origin + code.size() + 5);
        emit(0xE9);                                                 // jmp sequence
        emitLe(rel, 4);
    }

    private void epilogue() {
        for (int i = 0; i < 16; i++) {                              // mov [out_gpr + 8*i], rI
            ripRel(new int[] {0x48 | (i >> 3) << 2, 0x89}, i & 7, OUT_GPR + 8 * i);
        }
        for (int i = 0; i < 16; i++) {                              // movdqu [out_xmm + 16*i], xmmI
            ripRel(movdqu(i, 0x7F), i & 7, OUT_XMM + 16 * i);
        }
        ripRel(new int[] {0x0F, 0xAE}, 3, OUT_MXCSR);               // stmxcsr [out_mxcsr]
        ripRel(new int[] {0x48, 0x8B}, 4, SAVED_RSP);               // mov rsp, [saved_rsp]
        emit(0x9C, 0x58);                                           // pushfq; pop rax
        ripRel(new int[] {0x48, 0x89}, 0, OUT_FLAGS);               // mov [out_flags], rax
        ripRel(new int[] {0x0F, 0xAE}, 2, SAVED_MXCSR);             // ldmxcsr [saved_mxcsr]
        emit(0xFC);                                                 // cld: the ABI wants DF=0 on return
        emit(0xDB, 0xE3);                                           // fninit: empty x87 stack, FCW 0x37F as the JVM expects
        emit(0x41, 0x5F, 0x41, 0x5E, 0x41, 0x5D, 0x41, 0x5C, 0x5D, 0x5B, 0xC3);
        if (code.size() > Layout.PAGE) {
            throw new IllegalStateException("sequence and epilogue overflow the code page");
        }
    }

    /** F3 [REX.R] 0F op: MOVDQU load (6F) or store (7F); REX goes after the mandatory prefix. */
    private static int[] movdqu(int xmm, int opcode) {
        return xmm >= 8 ? new int[] {0xF3, 0x44, 0x0F, opcode} : new int[] {0xF3, 0x0F, opcode};
    }

    /** Opcode bytes, a ModRM selecting RIP+disp32 with {@code reg}, and the displacement to the state slot. */
    private void ripRel(int[] opcode, int reg, int stateOffset) {
        emit(opcode);
        emit(((reg & 7) << 3) | 5);
        long next = origin + code.size() + 4;
        emitLe(stateBase + stateOffset - next, 4);
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
