package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.mmu.Mmu;

import static dev.flint.engine.emu.cpu.CpuState.*;

/**
 * Hardware task switches outside long mode (Intel SDM vol. 3, chapter 7): JMP or CALL to a TSS descriptor
 * or a task gate, an interrupt or exception through a task gate in the IDT, and IRET with NT set. 32-bit
 * and 16-bit TSSes; the busy bit, the back link, NT, CR0.TS, CR3 and the LDT of the new task.
 *
 * <p>Everything that can fault before the switch commits (the descriptors, the new TSS's limit, reading
 * the new TSS, writing the old one) does so first, with nothing changed. Once the new TR is loaded the
 * switch has happened: a bad segment selector in the new TSS then faults (#TS, #NP, #SS with the
 * selector) in the new task's context, at its first instruction, as on hardware. Not modelled: the TSS's
 * debug trap bit (T).
 */
final class TaskSwitch {
    /** What starts a switch; it decides the busy bits, the back link and NT. */
    enum Kind { JMP, CALL, IRET, INT }

    private final Decoder dec;
    private final CpuState s;
    private final long[] r;
    private final Mmu mmu;
    private final Descriptors desc;
    private final Interrupts irq;
    private final Stack stack;
    /** Set once the switch of the moment committed (TR loaded): later faults belong to the new task. */
    boolean committed;

    TaskSwitch(Decoder dec, CpuState s, Mmu mmu, Descriptors desc, Interrupts irq, Stack stack) {
        this.stack = stack;
        this.dec = dec;
        this.s = s;
        this.r = s.gpr;
        this.mmu = mmu;
        this.desc = desc;
        this.irq = irq;
    }

    /** True if descriptor {@code d} is a TSS (16- or 32-bit, available or busy) or a task gate. */
    static boolean isTaskTarget(long d) {
        int a = Descriptors.attr(d);
        int type = a & 0xF;
        return (a & A_S) == 0 && (type == 1 || type == 3 || type == 5 || type == 9 || type == 0xB);
    }

    /** JMP or CALL to selector {@code sel}, whose descriptor {@code d} is a TSS or a task gate. */
    void farTransfer(int sel, long d, Kind kind, long nextIp) {
        int a = Descriptors.attr(d);
        int dpl = (a >> 5) & 3;
        if (dpl < s.cpl || dpl < (sel & 3)) throw GuestFault.gp(sel & ~3);
        if ((a & A_P) == 0) throw GuestFault.of(GuestFault.NP, sel & ~3);
        int tssSel = sel;
        long tss = d;
        if ((a & 0xF) == 5) { // task gate: the TSS it names
            tssSel = (int) (d >>> 16) & 0xFFFF;
            tss = gateTarget(tssSel, GuestFault.GP);
        } else if ((a & 2) != 0) {
            throw GuestFault.gp(sel & ~3); // busy: a task cannot be entered again
        }
        switchTo(tssSel, tss, kind, nextIp);
    }

    /**
     * An interrupt or exception through task gate {@code gate} in the IDT. The error code, if any, goes on
     * the new task's stack.
     */
    void interrupt(long gate, boolean hasErr, int err, long retIp) {
        int tssSel = (int) (gate >>> 16) & 0xFFFF;
        long tss = gateTarget(tssSel, GuestFault.TS);
        switchTo(tssSel, tss, Kind.INT, retIp);
        if (hasErr) stack.push((Descriptors.attr(tss) & 8) != 0 ? 4 : 2, err);
    }

    /** IRET with NT set: back to the task named by the current TSS's back link. */
    void iret(long nextIp) {
        int link = (int) mmu.readSystem(s.segBase[TR], 2);
        if ((link & 4) != 0 || (link & ~3) == 0) throw GuestFault.of(GuestFault.TS, link & ~3);
        long d = desc.readDescriptor(link, GuestFault.TS);
        int a = Descriptors.attr(d);
        int type = a & 0xF;
        if ((a & A_S) != 0 || (type != 3 && type != 0xB)) throw GuestFault.of(GuestFault.TS, link & ~3);
        if ((a & A_P) == 0) throw GuestFault.of(GuestFault.NP, link & ~3);
        switchTo(link, d, Kind.IRET, nextIp);
    }

    /** The available TSS a task gate names: in the GDT, not busy, present. */
    private long gateTarget(int tssSel, int errorVector) {
        if ((tssSel & 4) != 0 || (tssSel & ~3) == 0) throw GuestFault.of(errorVector, tssSel & ~3);
        long d = desc.readDescriptor(tssSel, errorVector);
        int a = Descriptors.attr(d);
        int type = a & 0xF;
        if ((a & A_S) != 0 || (type != 1 && type != 9)) throw GuestFault.of(errorVector, tssSel & ~3);
        if ((a & A_P) == 0) throw GuestFault.of(GuestFault.NP, tssSel & ~3);
        return d;
    }

    // 32-bit TSS offsets; the 16-bit TSS's are given where used.
    private static final int EIP = 0x20, EFLAGS = 0x24, EAX = 0x28, SEGS = 0x48, LDT = 0x60, CR3 = 0x1C;

    private void switchTo(int tssSel, long d, Kind kind, long retIp) {
        committed = false;
        int a = Descriptors.attr(d);
        boolean new32 = (a & 8) != 0;
        long base = Descriptors.base(d), limit = Descriptors.limit(d);
        if (limit < (new32 ? 0x67 : 0x2B)) throw GuestFault.of(GuestFault.TS, tssSel & ~3);

        // Read the new task's state first: a page fault here leaves everything as it was.
        long eip, eflags, cr3 = 0;
        long[] regs = new long[8];
        int[] sels = new int[6];
        int ldt;
        if (new32) {
            cr3 = mmu.readSystem(base + CR3, 4);
            eip = mmu.readSystem(base + EIP, 4);
            eflags = mmu.readSystem(base + EFLAGS, 4);
            for (int i = 0; i < 8; i++) regs[i] = mmu.readSystem(base + EAX + 4L * i, 4);
            for (int i = 0; i < 6; i++) sels[i] = (int) mmu.readSystem(base + SEGS + 4L * i, 2);
            ldt = (int) mmu.readSystem(base + LDT, 2);
        } else {
            eip = mmu.readSystem(base + 0x0E, 2);
            eflags = mmu.readSystem(base + 0x10, 2);
            for (int i = 0; i < 8; i++) regs[i] = mmu.readSystem(base + 0x12 + 2L * i, 2);
            for (int i = 0; i < 4; i++) sels[i] = (int) mmu.readSystem(base + 0x22 + 2L * i, 2);
            ldt = (int) mmu.readSystem(base + 0x2A, 2);
        }

        // Save the outgoing task into its TSS.
        long oldBase = s.segBase[TR];
        boolean old32 = (s.segAttr[TR] & 8) != 0;
        long oldFlags = s.flags.get();
        if (kind == Kind.IRET) oldFlags &= ~Flags.NT;
        if (old32) {
            mmu.writeSystem(oldBase + EIP, 4, retIp);
            mmu.writeSystem(oldBase + EFLAGS, 4, oldFlags);
            for (int i = 0; i < 8; i++) mmu.writeSystem(oldBase + EAX + 4L * i, 4, r[i]);
            for (int i = 0; i < 6; i++) mmu.writeSystem(oldBase + SEGS + 4L * i, 2, s.segSel[i]);
        } else {
            mmu.writeSystem(oldBase + 0x0E, 2, retIp);
            mmu.writeSystem(oldBase + 0x10, 2, oldFlags);
            for (int i = 0; i < 8; i++) mmu.writeSystem(oldBase + 0x12 + 2L * i, 2, r[i]);
            for (int i = 0; i < 4; i++) mmu.writeSystem(oldBase + 0x22 + 2L * i, 2, s.segSel[i]);
        }

        // Busy bits and the back link.
        if (kind == Kind.JMP || kind == Kind.IRET) setBusy(s.segSel[TR], false);
        if (kind == Kind.CALL || kind == Kind.INT) {
            mmu.writeSystem(base, 2, s.segSel[TR]);
            eflags |= Flags.NT;
        }
        if (kind != Kind.IRET) setBusy(tssSel, true);

        // Commit: the new TR, CR0.TS, CR3, registers and flags.
        s.segSel[TR] = tssSel;
        s.segBase[TR] = base;
        s.segLimit[TR] = limit;
        s.segAttr[TR] = a | 2;
        s.cr0 |= CR0_TS;
        committed = true;
        if (new32 && s.paging()) irq.writeCr(3, cr3);
        for (int i = 0; i < 8; i++) {
            r[i] = new32 ? regs[i] : (r[i] & ~0xFFFFL) | regs[i];
        }
        s.flags.load(new32 ? eflags : (s.flags.get() & ~0xFFFFL) | eflags);
        s.rip = eip;
        dec.restartAt(eip);
        loadSegments(sels, ldt, new32);
    }

    private void setBusy(int sel, boolean busy) {
        long at = desc.descriptorAddress(sel, GuestFault.GP) + 5;
        long access = mmu.readSystem(at, 1);
        mmu.writeSystem(at, 1, busy ? access | 2 : access & ~2);
    }

    /**
     * Loads LDTR and the segment registers of the new task. The selectors are all in place first, so a
     * fault on one of them shows the new task's selectors to its handler.
     */
    private void loadSegments(int[] sels, int ldt, boolean new32) {
        int count = new32 ? 6 : 4;
        for (int i = 0; i < count; i++) s.segSel[i] = sels[i];
        s.segSel[LDTR] = ldt;
        if ((s.flags.system & Flags.VM) != 0) { // virtual-8086 task: real-mode style segments at CPL 3
            for (int i = 0; i < 6; i++) {
                s.segSel[i] = sels[i];
                s.segBase[i] = (long) sels[i] << 4;
                s.segLimit[i] = 0xFFFF;
                s.segAttr[i] = 0xF3;
            }
            s.segAttr[LDTR] = 0;
            s.cpl = 3;
            dec.modeChanged();
            return;
        }
        loadLdt(ldt);
        int cs = sels[1];
        int cpl = cs & 3;
        if ((cs & ~3) == 0) throw GuestFault.of(GuestFault.TS, 0);
        long cd = desc.readDescriptor(cs, GuestFault.TS);
        int ca = Descriptors.attr(cd);
        int cdpl = (ca >> 5) & 3;
        if ((ca & A_S) == 0 || (ca & 8) == 0) throw GuestFault.of(GuestFault.TS, cs & ~3);
        if ((ca & 4) != 0 ? cdpl > cpl : cdpl != cpl) throw GuestFault.of(GuestFault.TS, cs & ~3);
        if ((ca & A_P) == 0) throw GuestFault.of(GuestFault.NP, cs & ~3);
        desc.loadCode(cs, cd, cpl);

        int ss = sels[2];
        if ((ss & ~3) == 0) throw GuestFault.of(GuestFault.TS, 0);
        long sd = desc.readDescriptor(ss, GuestFault.TS);
        int sa = Descriptors.attr(sd);
        if ((sa & A_S) == 0 || (sa & 0xA) != 2 || (ss & 3) != cpl || ((sa >> 5) & 3) != cpl) {
            throw GuestFault.of(GuestFault.TS, ss & ~3);
        }
        if ((sa & A_P) == 0) throw GuestFault.of(GuestFault.SS, ss & ~3);
        setSegment(SS, ss, sd);

        for (int reg : new int[] {ES, DS, FS, GS}) {
            if (!new32 && reg >= FS) break; // a 16-bit TSS holds no FS and GS: they stay as they were
            int sel = sels[reg];
            if ((sel & ~3) == 0) {
                s.segBase[reg] = 0;
                s.segLimit[reg] = 0;
                s.segAttr[reg] = 0;
                continue;
            }
            long dd = desc.readDescriptor(sel, GuestFault.TS);
            int da = Descriptors.attr(dd);
            boolean code = (da & 8) != 0;
            int dpl = (da >> 5) & 3;
            if ((da & A_S) == 0 || (code && (da & 2) == 0)) throw GuestFault.of(GuestFault.TS, sel & ~3);
            boolean conforming = code && (da & 4) != 0;
            if (!conforming && (dpl < cpl || dpl < (sel & 3))) throw GuestFault.of(GuestFault.TS, sel & ~3);
            if ((da & A_P) == 0) throw GuestFault.of(GuestFault.NP, sel & ~3);
            setSegment(reg, sel, dd);
        }
    }

    private void loadLdt(int ldt) {
        if ((ldt & ~3) == 0) {
            s.segBase[LDTR] = 0;
            s.segLimit[LDTR] = 0;
            s.segAttr[LDTR] = 0;
            return;
        }
        if ((ldt & 4) != 0) throw GuestFault.of(GuestFault.TS, ldt & ~3);
        long d = desc.readDescriptor(ldt, GuestFault.TS);
        int a = Descriptors.attr(d);
        if ((a & A_S) != 0 || (a & 0xF) != 2 || (a & A_P) == 0) throw GuestFault.of(GuestFault.TS, ldt & ~3);
        s.segBase[LDTR] = Descriptors.base(d);
        s.segLimit[LDTR] = Descriptors.limit(d);
        s.segAttr[LDTR] = a;
    }

    private void setSegment(int reg, int sel, long d) {
        desc.setAccessed(sel, d);
        s.segSel[reg] = sel;
        s.segBase[reg] = Descriptors.base(d);
        s.segLimit[reg] = Descriptors.limit(d);
        s.segAttr[reg] = Descriptors.attr(d) | 1;
    }
}
