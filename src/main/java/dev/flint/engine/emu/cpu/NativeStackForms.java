package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.mmu.NativeTlb;
import dev.flint.engine.emu.nativecode.BlockFrame;
import dev.flint.engine.emu.nativecode.NativeState;
import dev.flint.engine.emu.nativecode.X64Emitter;

import java.util.ArrayList;
import java.util.List;

import static dev.flint.engine.emu.nativecode.X64Emitter.OPERAND;
import static dev.flint.engine.emu.nativecode.X64Emitter.RAX;
import static dev.flint.engine.emu.nativecode.X64Emitter.RSP;

/**
 * The stack forms of the native translator (docs/emu-native.md, "emustack"), 64-bit mode only: PUSH r, POP r,
 * PUSH imm8/imm32, CALL rel32, RET and RET imm16. Each is one 8-byte access at SS:RSP (SS's base is 0 in 64-bit
 * mode, so the linear address is RSP) through the soft TLB ({@link NativeTlb}), as the memory forms
 * ({@link NativeMemoryForms}) do it: the address into a scratch register, the flags saved in AX, the probe (the
 * write row and the page's code mark for a push, the read row for a pop), then the access as a host MOV at
 * [address + addend]. Guest RSP lives in the state (never in a host register: the host's RSP is the host's
 * stack), so it is read from its slot and written back only after the access hit.
 *
 * <p>A miss (no entry, a page crossing of a misaligned RSP, a page that is not RAM or not writable, a
 * non-canonical RSP, which the TLB never holds) or a push into a page of decoded code leaves through an exit
 * stub with nothing of the instruction done: RSP, the register, RAM and the flags as before it, RIP at it. That
 * exit is never chained (Java must do the access first: walk, #PF or #SS, refill, code version bump). CALL ends
 * the translation with a chainable exit to its target; RET with an exit to the popped RIP, which the block
 * stores itself ({@link BlockFrame#exitToStoredRip}) and which is never chained (its target is not known when
 * the code is written).
 *
 * <p>PUSH RSP and POP RSP are not translated (their value and RSP's update interleave; they are rare), nor any
 * form with a 66 prefix (a 16-bit push or pop).
 */
final class NativeStackForms {
    /** The forms translated here. */
    static final int PUSH_R = 1, POP_R = 2, PUSH_IMM = 3, CALL = 4, RET = 5, LEAVE = 6; // LEAVE: emukforms

    private static final byte[] NONE = {};
    private static final int MOV_STORE = 0x89, MOV_LOAD = 0x8B;

    private final X64Emitter e;
    private final BlockFrame frame;
    private final long tlb;
    private final DecodedInsn[] insns;
    private final List<Runnable> stubs = new ArrayList<>();

    NativeStackForms(X64Emitter e, BlockFrame frame, long tlb, DecodedInsn[] insns) {
        this.e = e;
        this.frame = frame;
        this.tlb = tlb;
        this.insns = insns;
    }

    /** Which stack form {@code d} is (64-bit mode), or 0 if it is none translated here. */
    static int kind(DecodedInsn d) {
        if (d.lock || d.repPrefix != 0 || d.has66 || d.twoByte) return 0;
        if (d.fast == FastPath.PUSH) return d.src == CpuState.RSP ? 0 : PUSH_R;
        if (d.fast == FastPath.POP) return d.dst == CpuState.RSP ? 0 : POP_R;
        if (d.fast == FastPath.CALL) return CALL;
        if (d.fast == FastPath.RET || d.opcode == 0xC2) return RET;
        if (d.opcode == 0x6A || d.opcode == 0x68) return PUSH_IMM;
        if (d.opcode == 0xC9) return LEAVE; // RSP = RBP, then POP RBP
        return 0;
    }

    /** True for the forms that end a translation (they leave the block). */
    static boolean endsBlock(DecodedInsn d) {
        int k = kind(d);
        return k == CALL || k == RET;
    }

    /** The 64-bit value a PUSH imm pushes (the immediate sign-extended) or a CALL pushes (the return address). */
    private static long pushed(DecodedInsn d, int k) {
        if (k == CALL) return d.endIp;
        byte[] b = NativeTranslator.imm(d, d.opcode == 0x6A ? 1 : 4);
        long v = 0;
        for (int i = b.length - 1; i >= 0; i--) v = v << 8 | (b[i] & 0xFF);
        int bits = 8 * b.length;
        return v << (64 - bits) >> (64 - bits);
    }

    /**
     * Emits stack instruction {@code i} ({@link #kind} accepts it) and queues its exit stub. Returns true if it
     * ended the block (CALL, RET: their exits are emitted here).
     */
    boolean emit(int i) {
        DecodedInsn d = insns[i];
        int k = kind(d);
        boolean push = k != POP_R && k != RET && k != LEAVE;
        int[] regs = {k == PUSH_R ? d.src : k == POP_R ? d.dst : k == LEAVE ? CpuState.RBP : -1}, kinds = {OPERAND};
        int[] host = NativeTranslator.enter(e, regs, kinds); // guest R15 through a scratch register
        int used = 1 << RAX | 1 << RSP | 1 << X64Emitter.R15;
        if (host[0] >= 0) used |= 1 << host[0];
        int[] scratch = new int[4]; // address, addend, page, TLB
        int n = 0;
        for (int c : NativeMemoryForms.CANDIDATES) {
            if (n < 4 && (used & 1 << c) == 0) scratch[n++] = c;
        }
        int a = scratch[0], s2 = scratch[1], s1 = scratch[2], t = scratch[3];
        popOrder = new int[] {t, s2, s1, a};
        e.push(a);
        e.push(s1);
        e.push(s2);
        e.push(t);
        if (k == LEAVE) e.aluRR(X64Emitter.MOV, true, a, host[0]); // the pop's address: guest RBP
        else e.load(a, BlockFrame.STATE, BlockFrame.slot(RSP));
        if (push) e.leaSib(8, a, a, -1, 0, -8);
        e.movImm64(t, tlb);
        e.push(RAX);
        X64Emitter.Label miss = new X64Emitter.Label();
        e.tlbAddend(8, a, t, push ? NativeTlb.WRITE_ROW : NativeTlb.READ_ROW, push ? NativeTlb.CODE_BIAS : -1,
                NativeTlb.INDEX_MASK, s1, s2, true, miss, miss);
        e.restoreFlagsFromAx(); // kept always: PUSH/POP/CALL/RET leave the flags as they were
        e.pop(RAX);
        switch (k) {
            case PUSH_R -> e.memForm(8, false, MOV_STORE, OPERAND, host[0], a, s2, NONE);
            case PUSH_IMM, CALL -> {
                e.movImm64(s1, pushed(d, k));
                e.memForm(8, false, MOV_STORE, OPERAND, s1, a, s2, NONE);
            }
            case POP_R, LEAVE -> {
                e.memForm(8, false, MOV_LOAD, OPERAND, host[0], a, s2, NONE);
                e.leaSib(8, a, a, -1, 0, 8);
            }
            default -> { // RET [imm16]: RIP from the stack, RSP past it and the imm16 bytes
                e.memForm(8, false, MOV_LOAD, OPERAND, s2, a, s2, NONE);
                e.store(BlockFrame.STATE, NativeState.RIP, s2);
                int release = d.opcode == 0xC2 ? (int) (NativeTranslator.imm(d, 2)[0] & 0xFF
                        | (NativeTranslator.imm(d, 2)[1] & 0xFF) << 8) : 0;
                e.leaSib(8, a, a, -1, 0, 8 + release);
            }
        }
        e.store(BlockFrame.STATE, BlockFrame.slot(RSP), a);
        if (k == RET) tableLookup(e, i + 1, s2, s1, t, popOrder);
        e.pop(t);
        e.pop(s2);
        e.pop(s1);
        e.pop(a);
        NativeTranslator.leave(e, regs, kinds, host);
        if (k == CALL) frame.exit(d.imm, i + 1, BlockFrame.EXIT_BRANCH);
        if (k == RET) frame.exitToStoredRip(i + 1, BlockFrame.EXIT_BRANCH);
        stubs.add(() -> {
            e.bind(miss);
            e.restoreFlagsFromAx();
            e.pop(RAX);
            e.pop(t);
            e.pop(s2);
            e.pop(s1);
            e.pop(a);
            NativeTranslator.leave(e, regs, kinds, host); // nothing changed: stores back what it loaded
            frame.exit(d.rip, i, BlockFrame.EXIT_STOP, false); // Java must do the access first: never chained
        });
        return k == CALL || k == RET;
    }

    /** Entries of the indirect-jump table (a power of two), 32 bytes each: {RIP, chain entry address, epoch, 0}. */
    static final int TABLE_ENTRIES = NativeState.IJT_BYTES / 32;

    /**
     * The lookup of a computed target in the indirect-jump table ({@link NativeChains}), shared by RET here and by
     * {@link NativeIndirectForms}' CALL/JMP r/m: with the target RIP in {@code rip} (already the state's RIP, RSP
     * already stored), flags are parked in AX and RAX in its slot as a chained exit leaves them; the entry at
     * {@code rip mod TABLE_ENTRIES} is used if it holds this RIP and the state's current epoch: the budget is charged
     * {@code count}, the scratch registers popped in {@code popOrder} and the jump goes to the target's chain entry
     * (which checks the budget and the kick). Else flags and RAX come back and the code falls through to the caller's
     * pops and exit to Java. {@code s} and {@code t} are scratch registers.
     */
    static void tableLookup(X64Emitter e, int count, int rip, int s, int t, int[] popOrder) {
        X64Emitter.Label slow = new X64Emitter.Label();
        e.store(BlockFrame.STATE, BlockFrame.slot(RAX), RAX);
        e.saveFlagsToAx();
        e.aluRR(X64Emitter.MOV, true, s, rip);
        e.shift(X64Emitter.EXT_SHL, s, 5);
        e.aluRI(X64Emitter.EXT_AND, s, (TABLE_ENTRIES - 1) << 5);
        e.opLoad(X64Emitter.ADD_LOAD, s, BlockFrame.STATE, NativeState.IJT_TABLE);
        e.opLoad(X64Emitter.CMP_LOAD, rip, s, 0);
        e.jcc(X64Emitter.CC_NZ, slow);
        e.load(t, s, 16);
        e.opLoad(X64Emitter.CMP_LOAD, t, BlockFrame.STATE, NativeState.IJT_EPOCH);
        e.jcc(X64Emitter.CC_NZ, slow);
        e.load(t, s, 8);
        e.store(BlockFrame.STATE, NativeState.IJT_TARGET, t);
        e.aluMemImm(X64Emitter.EXT_SUB, BlockFrame.STATE, NativeState.BUDGET, count);
        for (int r : popOrder) e.pop(r);
        e.jmpMem(BlockFrame.STATE, NativeState.IJT_TARGET);
        e.bind(slow);
        e.restoreFlagsFromAx();
        e.load(RAX, BlockFrame.STATE, BlockFrame.slot(RAX));
    }

    /** The scratch registers of the instruction being emitted, in the order they are popped. */
    private int[] popOrder;

    /** Emits the queued exit stubs (after the block's straight-line code, before the frame's common tail). */
    void emitStubs() {
        for (Runnable r : stubs) r.run();
        stubs.clear();
    }
}
