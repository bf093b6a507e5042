package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.mmu.NativeTlb;
import dev.flint.engine.emu.nativecode.BlockFrame;
import dev.flint.engine.emu.nativecode.NativeState;
import dev.flint.engine.emu.nativecode.X64Emitter;

import java.util.ArrayList;
import java.util.List;

import static dev.flint.engine.emu.nativecode.X64Emitter.RAX;
import static dev.flint.engine.emu.nativecode.X64Emitter.RSP;

/**
 * Indirect CALL and JMP ({@code FF /2}, {@code FF /4}) in the native tier, 64-bit mode, operand size 64 (no 66
 * prefix), with a register or a memory operand (docs/emu-native.md, "emuijmp"). The target comes from the register
 * or from an 8-byte read through the soft TLB at the operand's linear address (FS/GS base added, as
 * {@link NativeMemoryForms} does it); a CALL then pushes the return address as {@link NativeStackForms} pushes
 * (RSP - 8, the write row and the page's code mark). Only when both accesses hit is anything written: RAM (the
 * return address), RSP, then RIP = target. The block then leaves through the indirect-jump table the RET form
 * uses (same entries, same epoch per CPL, so the table's invalidation in {@link NativeChains} covers these jumps
 * too): on a hit straight into the target's chain entry, on a miss to Java with the state exact after the
 * instruction ({@link BlockFrame#exitToStoredRip}, never chained).
 *
 * <p>A miss of either access (no entry, a page crossing, not RAM, not writable, a non-canonical address, a push
 * into a page of decoded code) leaves through an exit stub with nothing of the instruction done: RIP at it, RSP,
 * registers, RAM and flags as before; never chained, so Java does the access (walk, #PF/#SS/#GP, refill).
 * A non-canonical target is not checked here: no table entry holds one, so it exits to Java with the branch done,
 * as the interpreter's {@code jumpTo} does it (the fetch at the target faults).
 */
final class NativeIndirectForms {
    /** The forms translated here. */
    static final int CALL = 1, JMP = 2;

    private final X64Emitter e;
    private final BlockFrame frame;
    private final long tlb;
    private final DecodedInsn[] insns;
    private final List<Runnable> stubs = new ArrayList<>();

    NativeIndirectForms(X64Emitter e, BlockFrame frame, long tlb, DecodedInsn[] insns) {
        this.e = e;
        this.frame = frame;
        this.tlb = tlb;
        this.insns = insns;
    }

    /** Which form {@code d} is ({@link #CALL}, {@link #JMP}; 64-bit mode), or 0 if none translated here. */
    static int kind(DecodedInsn d) {
        if (d.twoByte || d.opcode != 0xFF || !d.hasModrm || d.lock || d.repPrefix != 0 || d.has66) return 0;
        int ext = d.reg & 7;
        if (ext != 2 && ext != 4) return 0;
        if (d.memOp) {
            if (d.adSize != 8) return 0;
            if ((d.base >= 0 || d.index >= 0) && (d.ripRel || d.disp != (int) d.disp)) return 0;
        }
        return ext == 2 ? CALL : JMP;
    }

    /** The host register holding guest register {@code g}: itself if resident, else {@code scratch} loaded from its slot. */
    private int guest(int g, int scratch) {
        if (g < 0 || BlockFrame.resident(g)) return g;
        e.load(scratch, BlockFrame.STATE, BlockFrame.slot(g));
        return scratch;
    }

    /** Emits indirect CALL/JMP {@code i} (the translation's last instruction) and queues its exit stub. */
    void emit(int i) {
        DecodedInsn d = insns[i];
        boolean call = kind(d) == CALL;
        int used = 1 << RAX | 1 << RSP | 1 << X64Emitter.R15;
        if (d.memOp) {
            if (d.base >= 0) used |= 1 << d.base;
            if (d.index >= 0) used |= 1 << d.index;
        } else {
            used |= 1 << d.rm;
        }
        int[] scratch = new int[5]; // address, addend, page, TLB, target
        int n = 0;
        for (int c : NativeMemoryForms.CANDIDATES) {
            if (n < 5 && (used & 1 << c) == 0) scratch[n++] = c;
        }
        int a = scratch[0], s2 = scratch[1], s1 = scratch[2], t = scratch[3], x = scratch[4];
        int[] popOrder = {x, t, s2, s1, a};
        e.push(a);
        e.push(s1);
        e.push(s2);
        e.push(t);
        e.push(x);
        X64Emitter.Label miss = new X64Emitter.Label();
        boolean saved = false; // flags in AX and RAX pushed
        if (d.memOp) {
            if (d.base < 0 && d.index < 0) {
                e.movImm64(a, d.ripRel ? d.endIp + d.disp : d.disp);
            } else {
                int base = guest(d.base, a), index = guest(d.index, s1);
                e.leaSib(8, a, base, index, d.scale, (int) d.disp);
            }
            if (d.seg == CpuState.FS || d.seg == CpuState.GS) { // 64-bit mode: base + effective address
                e.load(s1, BlockFrame.STATE, d.seg == CpuState.FS ? NativeState.FS_BASE : NativeState.GS_BASE);
                e.leaSib(8, a, a, s1, 0, 0);
            }
            e.movImm64(t, tlb);
            e.push(RAX);
            e.tlbAddend(8, a, t, NativeTlb.READ_ROW, -1, NativeTlb.INDEX_MASK, s1, s2, true, miss, miss);
            e.loadIndexed(x, a, s2); // the target; nothing written yet
            saved = true;
        } else if (BlockFrame.resident(d.rm)) {
            e.aluRR(X64Emitter.MOV, true, x, d.rm);
        } else {
            e.load(x, BlockFrame.STATE, BlockFrame.slot(d.rm));
        }
        if (call) { // the push's probe: RSP - 8, the write row and the code mark
            e.load(a, BlockFrame.STATE, BlockFrame.slot(RSP));
            e.leaSib(8, a, a, -1, 0, -8);
            e.movImm64(t, tlb);
            if (!saved) e.push(RAX);
            e.tlbAddend(8, a, t, NativeTlb.WRITE_ROW, NativeTlb.CODE_BIAS, NativeTlb.INDEX_MASK, s1, s2, !saved,
                    miss, miss);
            saved = true;
        }
        if (saved) {
            e.restoreFlagsFromAx(); // CALL/JMP leave the flags as they were
            e.pop(RAX);
        }
        if (call) {
            e.movImm64(s1, d.endIp);
            e.storeIndexed(a, s2, s1);
            e.store(BlockFrame.STATE, BlockFrame.slot(RSP), a);
        }
        e.store(BlockFrame.STATE, NativeState.RIP, x);
        NativeStackForms.tableLookup(e, i + 1, x, s1, t, popOrder);
        for (int r : popOrder) e.pop(r);
        frame.exitToStoredRip(i + 1, BlockFrame.EXIT_BRANCH);
        if (!saved) return; // JMP r: nothing can miss
        stubs.add(() -> {
            e.bind(miss);
            e.restoreFlagsFromAx();
            e.pop(RAX);
            for (int r : popOrder) e.pop(r);
            frame.exit(d.rip, i, BlockFrame.EXIT_STOP, false); // Java must do the access first: never chained
        });
    }

    /** Emits the queued exit stubs (after the block's straight-line code, before the frame's common tail). */
    void emitStubs() {
        for (Runnable r : stubs) r.run();
        stubs.clear();
    }
}
