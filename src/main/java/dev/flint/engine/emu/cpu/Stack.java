package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.mmu.Mmu;

import static dev.flint.engine.emu.cpu.CpuState.A_DB;
import static dev.flint.engine.emu.cpu.CpuState.RSP;
import static dev.flint.engine.emu.cpu.CpuState.SS;

/**
 * The guest stack: pushes and pops through SS at RSP with the stack's width (64-bit mode, else SS's B
 * bit). Shared by the instruction families, the fast forms ({@link FastPath}) and
 * {@link Interrupts}, so none of them calls back up into the CPU for it. The decoder tells it of mode
 * changes ({@link #modeChanged}), the only time its cached mode changes.
 */
final class Stack {
    private final CpuState s;
    private final long[] r;
    private final Mmu mmu;
    private boolean mode64;

    Stack(CpuState s, Mmu mmu) {
        this.s = s;
        this.r = s.gpr;
        this.mmu = mmu;
    }

    /** Called by {@link Decoder#modeChanged} after CS, CR0, EFER or CPL change. */
    void modeChanged(boolean mode64) { this.mode64 = mode64; }

    /** The stack's address size in bytes: 8 in 64-bit mode, else 4 or 2 by SS's B bit. */
    int size() { return mode64 ? 8 : (s.segAttr[SS] & A_DB) != 0 ? 4 : 2; }

    /** The part of RSP the stack uses. */
    long spMask() { int z = size(); return z == 8 ? -1L : z == 4 ? 0xFFFF_FFFFL : 0xFFFFL; }

    /**
     * Linear address of a {@code size}-byte access at {@code sp} in SS: #SS(0) on a non-canonical 64-bit
     * address, or outside 64-bit mode past SS's limit ({@link SegmentChecks}; expand-down stacks included).
     */
    long linear(long sp, int size, boolean write) {
        if (mode64) {
            if (((sp << 16) >> 16) != sp) throw GuestFault.of(GuestFault.SS, 0);
            return sp;
        }
        if (!SegmentChecks.fast(s, SS, sp, size, write)) SegmentChecks.check(s, SS, sp, size, write);
        return (s.segBase[SS] + sp) & 0xFFFF_FFFFL;
    }

    void push(int size, long v) {
        long m = spMask();
        long sp = (r[RSP] - size) & m;
        mmu.write(linear(sp, size, true), size, v);
        r[RSP] = (r[RSP] & ~m) | sp;
    }

    /**
     * An 8-byte push in 64-bit mode (the fast forms run only there): {@link #push} without the mode
     * checks, through the MMU's fixed-size store, so compiled blocks inline it whole.
     */
    void push64(long v) {
        long sp = r[RSP] - 8;
        if (((sp << 16) >> 16) != sp) throw GuestFault.of(GuestFault.SS, 0);
        mmu.write8(sp, v);
        r[RSP] = sp;
    }

    /** An 8-byte pop in 64-bit mode, as {@link #push64}. */
    long pop64() {
        long sp = r[RSP];
        if (((sp << 16) >> 16) != sp) throw GuestFault.of(GuestFault.SS, 0);
        long v = mmu.read8(sp);
        r[RSP] = sp + 8;
        return v;
    }

    long pop(int size) {
        long m = spMask();
        long sp = r[RSP] & m;
        long v = mmu.read(linear(sp, size, false), size);
        r[RSP] = (r[RSP] & ~m) | ((sp + size) & m);
        return v;
    }

    /** Reads the value {@code depth} bytes above the stack pointer without popping. */
    long peek(int size, long depth) {
        long m = spMask();
        return mmu.read(linear((r[RSP] + depth) & m, size, false), size);
    }
}
