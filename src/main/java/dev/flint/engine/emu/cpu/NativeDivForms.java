package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.nativecode.BlockFrame;
import dev.flint.engine.emu.nativecode.X64Emitter;

import static dev.flint.engine.emu.nativecode.X64Emitter.BYTE_OPERAND;
import static dev.flint.engine.emu.nativecode.X64Emitter.DIGIT;
import static dev.flint.engine.emu.nativecode.X64Emitter.OPERAND;
import static dev.flint.engine.emu.nativecode.X64Emitter.RAX;
import static dev.flint.engine.emu.nativecode.X64Emitter.RDX;

/**
 * DIV and IDIV (F6/F7 /6 /7) in the native tier (docs/emu-native.md, "emudiv"), register and memory operands,
 * every operand size, 64-bit mode. The host runs the guest's own instruction, but only after a check that it
 * cannot fault: a host #DE would kill Flint, and the guest's #DE must be raised by Java with the state exact. The
 * check exits to Java at the instruction (nothing of it done, never chained) when:
 * <ul>
 * <li>DIV: the dividend's high half (AH; DX, EDX, RDX) is not below the divisor (unsigned). That is exactly the
 * quotient not fitting, and it covers a divisor of 0.</li>
 * <li>IDIV: the dividend (AX; DX:AX, EDX:EAX, RDX:RAX) is not the sign extension of its low half, or the divisor is 0
 * or -1. Conservative and enough: when the dividend fits in the operand size and the divisor is neither 0 nor
 * -1, |quotient| &lt;= |dividend| / 2, which fits. The exits it takes for dividends that would not fault are
 * run by Java (correct, only slower).</li>
 * </ul>
 * Java then runs the instruction and raises #DE exactly as the replay does. The flags after DIV/IDIV are
 * undefined: the host leaves its own (the interpreter leaves them unchanged), as for MUL (emuforms).
 *
 * <p>Memory operands go through {@link NativeMemoryForms} ({@link NativeAluForms#form} describes them), which calls
 * {@link #checkMemory} after its soft-TLB probe: the flags are then saved in AX and guest RAX is on the stack, and a
 * failed check leaves through the probe's own miss stub. Register operands save the flags with PUSHFQ around the
 * check ({@link #emitRegister}).
 */
final class NativeDivForms {
    private NativeDivForms() {}

    /** Candidates for the check's two scratch registers: no REX needed with AH..BH as a source. */
    private static final int[] LOW = {X64Emitter.RCX, X64Emitter.RBX, X64Emitter.RSI, X64Emitter.RDI, X64Emitter.RBP};

    private static final byte[] NONE = {};

    /** True if {@code d} is DIV or IDIV (with any operand). */
    static boolean isDiv(DecodedInsn d) {
        return !d.twoByte && (d.opcode == 0xF6 || d.opcode == 0xF7) && d.hasModrm && (d.reg & 7) >= 6;
    }

    /** True if {@code d} is a register DIV/IDIV translated here. */
    static boolean translates(DecodedInsn d) {
        return isDiv(d) && !d.memOp && !d.lock && d.repPrefix == 0;
    }

    /**
     * Emits register DIV/IDIV {@code d}, instruction {@code index} of the block: the check with the flags kept by
     * PUSHFQ/POPFQ, an exit at the instruction when it fails, else the instruction itself.
     */
    static void emitRegister(X64Emitter e, BlockFrame frame, DecodedInsn d, int index) {
        NativeAluForms.Form f = NativeAluForms.form(d);
        int[] regs = {-1, f.rm(), RAX, RDX}, kinds = {DIGIT, f.rmKind(), DIGIT, DIGIT};
        int[] host = NativeTranslator.enter(e, regs, kinds);
        int divisor = host[1], full = divisor >= X64Emitter.AH ? divisor - X64Emitter.AH : divisor;
        int x = -1, t = -1;
        for (int c : LOW) {
            if (c == full) continue;
            if (x < 0) x = c;
            else if (t < 0) t = c;
        }
        e.push(x);
        e.push(t);
        e.pushfq();
        X64Emitter.Label bad = new X64Emitter.Label(), over = new X64Emitter.Label();
        e.regForm(8, false, 0x8B, OPERAND, x, OPERAND, RAX, NONE); // x = guest RAX
        int z = f.opSize();
        int finalX = x, finalT = t;
        check(e, (d.reg & 7) == 7, z, x, t, () -> {
            if (z == 1) e.regForm(4, true, 0xB6, OPERAND, finalT, BYTE_OPERAND, divisor, NONE); // movzx t, r8
            else e.regForm(z == 8 ? 8 : 4, false, 0x8B, OPERAND, finalT, OPERAND, divisor, NONE);
        }, bad);
        e.popfq();
        e.pop(finalT);
        e.pop(finalX);
        e.regForm(z, false, d.opcode, DIGIT, d.reg & 7, f.rmKind(), divisor, NONE);
        NativeTranslator.leave(e, regs, kinds, host);
        e.jmp(over);
        e.bind(bad);
        e.popfq();
        e.pop(finalT);
        e.pop(finalX);
        NativeTranslator.leave(e, regs, kinds, host); // unchanged registers: stores the values they had
        frame.exit(d.rip, index, BlockFrame.EXIT_STOP, false); // Java raises #DE (or runs it): never chained
        e.bind(over);
    }

    /**
     * The check of memory DIV/IDIV {@code d}, emitted by {@link NativeMemoryForms} after a hit of its probe: the
     * divisor is at [{@code addr} + {@code addend}], guest RAX at [RSP] (host RAX holds the saved flags), guest RDX
     * in RDX; {@code x} and {@code t} are free scratch registers; a failed check jumps to {@code bad} (the miss
     * stub: flags restored, exit at the instruction). A passed check leaves the divisor in {@code t} (zero-extended
     * from its {@code z} bytes), and the caller must divide by {@code t}, not by the memory operand: another vCPU or
     * a device may write the divisor between the check and a second read, and a host #DE would kill Flint.
     */
    static void checkMemory(X64Emitter e, DecodedInsn d, int x, int t, int addr, int addend, X64Emitter.Label bad) {
        int z = NativeAluForms.form(d).opSize();
        e.load(x, X64Emitter.RSP, 0); // guest RAX
        check(e, (d.reg & 7) == 7, z, x, t, () -> {
            switch (z) {
                case 1 -> e.memForm(4, true, 0xB6, OPERAND, t, addr, addend, NONE); // movzx t, byte [m]
                case 2 -> e.memForm(4, true, 0xB7, OPERAND, t, addr, addend, NONE);
                default -> e.memForm(z, false, 0x8B, OPERAND, t, addr, addend, NONE);
            }
        }, bad);
    }

    /**
     * Jumps to {@code bad} unless a DIV ({@code signed} false) or IDIV of {@code z} bytes cannot fault. {@code x}
     * holds guest RAX (clobbered), {@code loadDivisor} puts the divisor in {@code t} (its low {@code z} bytes are
     * compared; t keeps it); guest RDX is in RDX. Clobbers the flags.
     */
    private static void check(X64Emitter e, boolean signed, int z, int x, int t, Runnable loadDivisor,
                              X64Emitter.Label bad) {
        if (!signed) {
            loadDivisor.run();
            if (z == 1) {
                e.regForm(8, false, 0xC1, DIGIT, 5, OPERAND, x, new byte[] {8}); // shr x, 8: AH
                e.regForm(1, false, 0x38, BYTE_OPERAND, t, BYTE_OPERAND, x, NONE); // cmp AH, divisor
            } else {
                e.regForm(z, false, 0x39, OPERAND, t, OPERAND, RDX, NONE); // cmp rDX, divisor
            }
            e.jcc(X64Emitter.CC_AE, bad); // high half >= divisor (divisor 0 included): the quotient does not fit
            return;
        }
        if (z == 1) {
            e.regForm(2, true, 0xBE, OPERAND, t, BYTE_OPERAND, x, NONE); // movsx t16, AL
            e.regForm(2, false, 0x39, OPERAND, x, OPERAND, t, NONE);     // cmp t16, AX
        } else {
            e.regForm(z, false, 0xC1, DIGIT, 7, OPERAND, x, new byte[] {(byte) (8 * z - 1)}); // sar: sign of rAX
            e.regForm(z, false, 0x39, OPERAND, RDX, OPERAND, x, NONE);                       // cmp with rDX
        }
        e.jcc(X64Emitter.CC_NZ, bad); // the dividend is wider than the operand size
        loadDivisor.run();
        // x = divisor + 1 (low z bytes; x is free now), t keeps the divisor: the memory form divides by t.
        e.leaSib(z == 8 ? 8 : 4, x, t, -1, 0, 1);
        if (z == 1) e.regForm(1, false, 0x80, DIGIT, 7, BYTE_OPERAND, x, new byte[] {1}); // cmp x8, 1
        else e.regForm(z, false, 0x83, DIGIT, 7, OPERAND, x, new byte[] {1});
        e.jcc(X64Emitter.CC_BE, bad); // divisor + 1 is 0 or 1: the divisor is -1 or 0
    }
}
