package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.mmu.NativeTlb;
import dev.flint.engine.emu.nativecode.BlockFrame;
import dev.flint.engine.emu.nativecode.NativeState;
import dev.flint.engine.emu.nativecode.X64Emitter;

import static dev.flint.engine.emu.nativecode.X64Emitter.DIGIT;
import static dev.flint.engine.emu.nativecode.X64Emitter.OPERAND;
import static dev.flint.engine.emu.nativecode.X64Emitter.RBP;
import static dev.flint.engine.emu.nativecode.X64Emitter.RBX;
import static dev.flint.engine.emu.nativecode.X64Emitter.RCX;
import static dev.flint.engine.emu.nativecode.X64Emitter.RDI;
import static dev.flint.engine.emu.nativecode.X64Emitter.RDX;
import static dev.flint.engine.emu.nativecode.X64Emitter.RSI;
import static dev.flint.engine.emu.nativecode.X64Emitter.R8;
import static dev.flint.engine.emu.nativecode.X64Emitter.R9;
import static dev.flint.engine.emu.nativecode.X64Emitter.R10;
import static dev.flint.engine.emu.nativecode.X64Emitter.R11;

/**
 * The string forms of the native translator (docs/emu-native.md, "emurep"), 64-bit mode: MOVS and STOS
 * ({@code A4 A5 AA AB}) at every operand size, plain or with a REP prefix (F3, or F2, which MOVS and STOS treat
 * alike), 64- or 32-bit addressing, the source with any segment (FS/GS add their base from the native state, as
 * in "emufsgs"; the destination is ES, base 0).
 *
 * <p>With DF = 0 (else the block exits to Java at the instruction, nothing done) the code works a chunk at a
 * time: the destination is probed through the soft TLB's write row (and the page's code mark: a store into
 * decoded code goes through Java), the source through the read row; the chunk is as many elements as are left
 * and lie wholly inside both pages; the host's own {@code rep movs}/{@code rep stos} does them on the host
 * addresses (for overlapping ranges the host gives the architectural element-by-element result), and RSI, RDI
 * and RCX (ESI, EDI, ECX with 32-bit addressing: the writes zero-extend, as the interpreter's do) move on as the
 * guest's would. Then the next chunk, until RCX is 0. A miss (an unmapped, read-only or non-RAM page, an element
 * crossing a page end, a non-canonical address, a page of decoded code) exits to Java with RIP at the instruction
 * and RCX, RSI, RDI as the chunks before left them: a REP string instruction may be interrupted between
 * iterations, and Java goes on from there (raising #PF at the exact iteration). RCX = 0 does nothing.
 *
 * <p>Budget: the last chunk is part of the instruction (counted when the block exits past it); every chunk after
 * which elements are left (one per page) takes one instruction off the budget, and when fewer instructions are
 * left than the block has the block exits to Java at the instruction, so that a long REP cannot hold off
 * interrupts (and the run counts at least that chunk: Java does not take it for a block that did nothing). (The Java tier counts a REP as one instruction per
 * restart, every {@link StringInstructions#REP_CHUNK} iterations, a bulk page being one iteration.)
 *
 * <p>The guest's flags are kept across the whole form with PUSHFQ/POPFQ (MOVS and STOS change none); every
 * scratch register is pushed and popped, the guest's RCX, RSI and RDI around the host instruction.
 */
final class NativeStringForms {
    private final X64Emitter e;
    private final BlockFrame frame;
    private final long tlb;
    private final DecodedInsn[] insns;
    private final int total;

    /** Forms for a translation of {@code total} instructions; {@code tlb} is the vCPU's {@link NativeTlb}. */
    NativeStringForms(X64Emitter e, BlockFrame frame, long tlb, DecodedInsn[] insns, int total) {
        this.e = e;
        this.frame = frame;
        this.tlb = tlb;
        this.insns = insns;
        this.total = total;
    }

    /** True for the forms translated here (64-bit mode; the translator asks only there). */
    static boolean translates(DecodedInsn d) {
        if (d.lock || d.twoByte || d.hasModrm || (d.adSize != 8 && d.adSize != 4)) return false;
        int op = d.opcode;
        return op == 0xA4 || op == 0xA5 || op == 0xAA || op == 0xAB;
    }

    private static final byte[] NONE = {};
    private static final int MOV_RR = 0x89, TEST = 0x85, CMOVA = 0x47;

    /** Emits string instruction {@code i}; its exits (to Java at the instruction) are inline, jumped over. */
    void emit(int i) {
        DecodedInsn d = insns[i];
        boolean movs = d.opcode == 0xA4 || d.opcode == 0xA5;
        boolean rep = d.repPrefix != 0;
        boolean a64 = d.adSize == 8;
        int z = (d.opcode & 1) == 0 ? 1 : d.opSize;
        int k = Integer.numberOfTrailingZeros(z);
        // Scratch registers: count, destination host address, linear address, TLB, probe scratch, addend/source
        // host address, chunk. None of them is RAX, RCX, RSI or RDI (the host instruction's own).
        final int cnt = R8, dh = R10, a = RBX, t = RBP, s1 = RDX, s2 = R9, n = R11;
        final int[] saved = {RBX, RDX, RBP, R8, R9, R10, R11};
        X64Emitter.Label top = new X64Emitter.Label(), out = new X64Emitter.Label(), done = new X64Emitter.Label();
        e.pushfq();
        for (int r : saved) e.push(r);
        e.movImm64(t, tlb);
        e.aluMemImm(X64Emitter.EXT_CMP, BlockFrame.STATE, NativeState.DIRECTION, 0);
        e.jcc(X64Emitter.CC_NZ, out); // DF = 1: Java
        e.bind(top);
        if (rep) {
            e.aluRR(MOV_RR, a64, cnt, RCX);
            e.regForm(8, false, TEST, OPERAND, cnt, OPERAND, cnt, NONE);
            e.jcc(X64Emitter.CC_Z, done);
        } else {
            e.movImm32(cnt, 1);
        }
        // Destination: ES:RDI, base 0.
        e.aluRR(MOV_RR, a64, a, RDI);
        e.tlbAddend(z, a, t, NativeTlb.WRITE_ROW, NativeTlb.CODE_BIAS, NativeTlb.INDEX_MASK, s1, s2, false, out, out);
        e.leaSib(8, dh, a, s2, 0, 0);
        roomInPage(n, a, k);
        e.aluRR(X64Emitter.CMP, true, n, cnt);
        e.regForm(8, true, CMOVA, OPERAND, n, OPERAND, cnt, NONE); // n = min(room, count)
        if (movs) {
            e.aluRR(MOV_RR, a64, a, RSI);
            if (d.seg == CpuState.FS || d.seg == CpuState.GS) {
                e.load(s1, BlockFrame.STATE, d.seg == CpuState.FS ? NativeState.FS_BASE : NativeState.GS_BASE);
                e.leaSib(8, a, a, s1, 0, 0);
            }
            e.tlbAddend(z, a, t, NativeTlb.READ_ROW, -1, NativeTlb.INDEX_MASK, s1, s2, false, out, out);
            e.leaSib(8, s2, a, s2, 0, 0); // the source's host address
            roomInPage(s1, a, k);
            e.aluRR(X64Emitter.CMP, true, n, s1);
            e.regForm(8, true, CMOVA, OPERAND, n, OPERAND, s1, NONE);
        }
        e.push(RCX);
        e.push(RSI);
        e.push(RDI);
        e.aluRR(MOV_RR, true, RCX, n);
        e.aluRR(MOV_RR, true, RDI, dh);
        if (movs) e.aluRR(MOV_RR, true, RSI, s2);
        e.repString(movs, z);
        e.pop(RDI);
        e.pop(RSI);
        e.pop(RCX);
        // The guest's registers move on by the chunk (32-bit operations zero-extend, as the a32 forms' writes do).
        e.aluRR(MOV_RR, true, s1, n);
        if (k > 0) e.shift(X64Emitter.EXT_SHL, s1, k);
        e.aluRR(X64Emitter.ADD, a64, RDI, s1);
        if (movs) e.aluRR(X64Emitter.ADD, a64, RSI, s1);
        if (!rep) {
            e.jmp(done);
        } else {
            e.aluRR(X64Emitter.SUB, a64, RCX, n);
            e.jcc(X64Emitter.CC_Z, done);
            // More to do (the next page): the chunk just done costs one instruction of the budget; with fewer left
            // than the block has, Java goes on (the run then counts at least that one instruction).
            e.aluMemImm(X64Emitter.EXT_SUB, BlockFrame.STATE, NativeState.BUDGET, 1);
            e.aluMemImm(X64Emitter.EXT_CMP, BlockFrame.STATE, NativeState.BUDGET, total);
            e.jcc(X64Emitter.CC_L, out);
            e.jmp(top);
        }
        e.bind(out);
        for (int j = saved.length - 1; j >= 0; j--) e.pop(saved[j]);
        e.popfq();
        frame.exit(d.rip, i, BlockFrame.EXIT_STOP, false); // Java goes on from the registers as they are: never chained
        e.bind(done);
        for (int j = saved.length - 1; j >= 0; j--) e.pop(saved[j]);
        e.popfq();
    }

    /** {@code dst} = the whole elements of 2^k bytes from linear address {@code a} to its page's end (at least 1 after a hit). */
    private void roomInPage(int dst, int a, int k) {
        e.aluRR(MOV_RR, true, dst, a);
        e.regForm(8, false, 0xF7, DIGIT, 2, OPERAND, dst, NONE); // not: 0xFFF - offset in the low bits
        e.aluRI(X64Emitter.EXT_AND, dst, 0xFFF);
        e.aluRI(X64Emitter.EXT_ADD, dst, 1);                        // 4096 - offset
        if (k > 0) e.shift(X64Emitter.EXT_SHR, dst, k);
    }
}
