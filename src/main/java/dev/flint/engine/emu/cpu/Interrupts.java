package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.irq.CpuInterruptPort;
import dev.flint.engine.emu.mmu.Mmu;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;

import static dev.flint.engine.emu.cpu.CpuState.*;

/**
 * Control transfers that change privilege or mode: exception and interrupt delivery through the IVT/IDT
 * (with IST, stack switches, error codes, double and triple faults), IRET, far JMP/CALL/RET, SYSCALL and
 * SYSRET; plus the privileged state they depend on (control registers, MSRs, RFLAGS writes).
 */
final class Interrupts {
    private static final Logger LOG = Logger.getLogger(Interrupts.class.getName());
    private static final Set<Integer> LOGGED_MSRS = ConcurrentHashMap.newKeySet();
    private static final Set<String> LOGGED_UNIMPLEMENTED = ConcurrentHashMap.newKeySet();

    /** SYSCALL/SYSRET hidden descriptor attributes: 64-bit code, 32-bit code and data, at DPL 0 or 3. */
    private static final int ATTR_CODE64 = 0xB | A_S | A_P | A_L | A_G;
    private static final int ATTR_CODE32 = 0xB | A_S | A_P | A_DB | A_G;
    private static final int ATTR_DATA = 0x3 | A_S | A_P | A_DB | A_G;

    private final Decoder dec;
    private final CpuState s;
    private final long[] r;
    private final Mmu mmu;
    private final Descriptors desc;
    private final Stack stack;
    /** This CPU's local APIC (CR8, its MSRs), or null on a machine without one. */
    private final CpuInterruptPort apic;
    private final TimeStampCounter tsc;
    private final TaskSwitch tasks;

    Interrupts(Decoder dec, CpuState s, Mmu mmu, Descriptors desc, Stack stack, CpuInterruptPort apic, TimeStampCounter tsc) {
        this.dec = dec;
        this.apic = apic;
        this.tsc = tsc;
        this.stack = stack;
        this.s = s;
        this.r = s.gpr;
        this.mmu = mmu;
        this.desc = desc;
        this.tasks = new TaskSwitch(dec, s, mmu, desc, this, stack);
    }

    // ============================================================ delivery

    /** Delivers a fault raised by the instruction at {@code s.rip} (RIP points at it). */
    void deliverException(GuestFault f) {
        deliver(f.vector, f.hasErrorCode, f.errorCode, false, s.rip, false);
    }

    /** Delivers an external interrupt or NMI between instructions. */
    void deliverExternal(int vector, boolean nmi) {
        deliver(vector, false, 0, false, s.rip, true);
    }

    /** INT n / INT3 / INTO / INT1: the return address is the next instruction. */
    void softwareInterrupt(int vector, long nextIp) {
        if (s.protectedMode() && (s.flags.system & Flags.VM) != 0 && s.flags.iopl() < 3) throw GuestFault.gp(0);
        deliver(vector, false, 0, true, nextIp, false);
        dec.moveIp(s.rip);
    }

    private void deliver(int vector, boolean hasErr, int err, boolean soft, long retIp, boolean external) {
        try {
            raw(vector, hasErr, err, soft, retIp, external);
        } catch (GuestFault second) {
            if (vector == GuestFault.DF) throw new TripleFault(s.dump());
            boolean firstContributory = vector == 0 || (vector >= 10 && vector <= 14);
            boolean secondContributory = second.vector == 0 || (second.vector >= 10 && second.vector <= 13);
            boolean df = (firstContributory && secondContributory)
                    || (vector == GuestFault.PF && (secondContributory || second.vector == GuestFault.PF));
            if (df) deliver(GuestFault.DF, true, 0, false, retIp, false);
            else deliver(second.vector, second.hasErrorCode, second.errorCode, false, retIp, false);
        }
    }

    private void raw(int vector, boolean hasErr, int err, boolean soft, long retIp, boolean external) {
        int ext = external ? 1 : 0;
        if (!s.protectedMode()) {
            realModeInterrupt(vector, retIp);
            return;
        }
        if (s.longMode()) {
            longModeInterrupt(vector, hasErr, err, soft, retIp, ext);
        } else {
            protectedInterrupt(vector, hasErr, err, soft, retIp, ext);
        }
    }

    private void realModeInterrupt(int vector, long retIp) {
        if (vector * 4 + 3 > s.idtLimit) throw GuestFault.gp(0);
        long ent = mmu.readSystem(s.idtBase + vector * 4L, 4);
        long sp = r[RSP];
        long ssBase = s.segBase[SS];
        long[] vals = {s.flags.get() & 0xFFFF, s.segSel[CS], retIp & 0xFFFF};
        for (long v : vals) {
            sp = (sp - 2) & 0xFFFF;
            mmu.writeSystem((ssBase + sp) & 0xFFFF_FFFFL, 2, v);
        }
        r[RSP] = (r[RSP] & ~0xFFFFL) | sp;
        s.flags.system &= ~(Flags.IF | Flags.TF | Flags.AC | Flags.RF);
        desc.loadRealCode((int) (ent >>> 16));
        s.rip = ent & 0xFFFF;
    }

    private void longModeInterrupt(int vector, boolean hasErr, int err, boolean soft, long retIp, int ext) {
        int gateErr = vector * 8 + 2 + ext;
        if (vector * 16 + 15 > s.idtLimit) throw GuestFault.gp(gateErr);
        long lo = mmu.readSystem(s.idtBase + vector * 16L, 8);
        long hi = mmu.readSystem(s.idtBase + vector * 16L + 8, 8);
        int type = (int) (lo >>> 40) & 0x1F;
        int gateDpl = (int) (lo >>> 45) & 3;
        if (type != 0xE && type != 0xF) throw GuestFault.gp(gateErr);
        if (soft && gateDpl < s.cpl) throw GuestFault.gp(gateErr);
        if ((lo & (1L << 47)) == 0) throw GuestFault.of(GuestFault.NP, gateErr);
        int sel = (int) (lo >>> 16) & 0xFFFF;
        long target = (lo & 0xFFFF) | (((lo >>> 48) & 0xFFFF) << 16) | ((hi & 0xFFFF_FFFFL) << 32);
        int ist = (int) (lo >>> 32) & 7;
        if ((sel & ~3) == 0) throw GuestFault.gp(ext);
        long d = desc.readDescriptor(sel, GuestFault.GP);
        int a = Descriptors.attr(d);
        if ((a & A_S) == 0 || (a & 8) == 0 || (a & A_L) == 0 || (a & A_DB) != 0) throw GuestFault.gp((sel & ~3) + ext);
        int dpl = (a >> 5) & 3;
        if (dpl > s.cpl) throw GuestFault.gp((sel & ~3) + ext);
        if ((a & A_P) == 0) throw GuestFault.of(GuestFault.NP, (sel & ~3) + ext);
        int newCpl = (a & 4) != 0 ? s.cpl : dpl;
        long rsp;
        if (ist != 0) rsp = mmu.readSystem(s.segBase[TR] + 0x24 + (ist - 1) * 8L, 8);
        else if (newCpl < s.cpl) rsp = mmu.readSystem(s.segBase[TR] + 4 + newCpl * 8L, 8);
        else rsp = r[RSP];
        rsp &= ~0xFL;
        long[] frame = {s.segSel[SS], r[RSP], s.flags.get(), s.segSel[CS], retIp, err};
        int n = hasErr ? 6 : 5;
        for (int i = 0; i < n; i++) {
            rsp -= 8;
            mmu.writeSystem(rsp, 8, frame[i]);
        }
        // Everything that can fault has happened: commit.
        r[RSP] = rsp;
        if (newCpl != s.cpl) {
            s.segSel[SS] = newCpl;
            s.segBase[SS] = 0;
            s.segLimit[SS] = 0;
            s.segAttr[SS] = (newCpl << 5) | A_DB;
        }
        desc.loadCode(sel, d, newCpl);
        s.flags.system &= ~(Flags.TF | Flags.NT | Flags.RF | Flags.VM);
        if (type == 0xE) s.flags.system &= ~Flags.IF;
        s.rip = target;
    }

    private void protectedInterrupt(int vector, boolean hasErr, int err, boolean soft, long retIp, int ext) {
        int gateErr = vector * 8 + 2 + ext;
        if (vector * 8 + 7 > s.idtLimit) throw GuestFault.gp(gateErr);
        long g = mmu.readSystem(s.idtBase + vector * 8L, 8);
        int type = (int) (g >>> 40) & 0x1F;
        int gateDpl = (int) (g >>> 45) & 3;
        boolean gate32 = type == 0xE || type == 0xF;
        if (!gate32 && type != 0x6 && type != 0x7 && type != 0x5) throw GuestFault.gp(gateErr);
        if (soft && gateDpl < s.cpl) throw GuestFault.gp(gateErr);
        if ((g & (1L << 47)) == 0) throw GuestFault.of(GuestFault.NP, gateErr);
        if (type == 0x5) {
            try {
                tasks.interrupt(g, hasErr, err, retIp);
            } catch (GuestFault f) {
                if (!tasks.committed) throw f;
                // A bad selector in the new task's TSS: its fault is the new task's, delivered there.
                deliver(f.vector, f.hasErrorCode, f.errorCode, false, s.rip, false);
            }
            return;
        }
        int sel = (int) (g >>> 16) & 0xFFFF;
        long target = (g & 0xFFFF) | (gate32 ? ((g >>> 48) & 0xFFFF) << 16 : 0);
        if ((sel & ~3) == 0) throw GuestFault.gp(ext);
        long d = desc.readDescriptor(sel, GuestFault.GP);
        int a = Descriptors.attr(d);
        if ((a & A_S) == 0 || (a & 8) == 0) throw GuestFault.gp((sel & ~3) + ext);
        if ((a & A_P) == 0) throw GuestFault.of(GuestFault.NP, (sel & ~3) + ext);
        int dpl = (a >> 5) & 3;
        int newCpl = (a & 4) != 0 ? s.cpl : dpl;
        int z = gate32 ? 4 : 2;
        long oldSs = s.segSel[SS], oldSp = r[RSP];
        int ssSel = s.segSel[SS];
        long ssBase = s.segBase[SS];
        long spMask = (s.segAttr[SS] & A_DB) != 0 ? 0xFFFF_FFFFL : 0xFFFF;
        long sp = r[RSP];
        boolean stackSwitch = newCpl < s.cpl;
        long newSsDesc = 0;
        int ssAttr = s.segAttr[SS];
        long ssLimit = s.segLimit[SS];
        if (stackSwitch) {
            long tss = s.segBase[TR];
            sp = mmu.readSystem(tss + 4 + newCpl * 8L, 4);
            ssSel = (int) mmu.readSystem(tss + 8 + newCpl * 8L, 2);
            newSsDesc = desc.readDescriptor(ssSel, GuestFault.TS);
            ssBase = Descriptors.base(newSsDesc);
            ssAttr = Descriptors.attr(newSsDesc);
            ssLimit = Descriptors.limit(newSsDesc);
            spMask = (ssAttr & A_DB) != 0 ? 0xFFFF_FFFFL : 0xFFFF;
        }
        long[] frame = {oldSs, oldSp, s.flags.get(), s.segSel[CS], retIp, err};
        int first = stackSwitch ? 0 : 2;
        int last = hasErr ? 6 : 5;
        for (int i = first; i < last; i++) {
            sp = (sp - z) & spMask;
            // The frame must fit in the stack segment: else #SS (with the new SS's selector after a switch).
            if (!SegmentChecks.stackHolds(ssAttr, ssLimit, sp, z)) throw GuestFault.of(GuestFault.SS, stackSwitch ? ssSel & ~3 : 0);
            mmu.writeSystem((ssBase + sp) & 0xFFFF_FFFFL, z, frame[i]);
        }
        if (stackSwitch) {
            s.segSel[SS] = ssSel;
            s.segBase[SS] = ssBase;
            s.segLimit[SS] = Descriptors.limit(newSsDesc);
            s.segAttr[SS] = Descriptors.attr(newSsDesc);
        }
        r[RSP] = (r[RSP] & ~spMask) | sp;
        desc.loadCode(sel, d, newCpl);
        s.flags.system &= ~(Flags.TF | Flags.NT | Flags.RF | Flags.VM);
        if ((type & 1) == 0) s.flags.system &= ~Flags.IF;
        s.rip = target;
    }

    // ============================================================ returns and far transfers

    void iret(int opSize) {
        if (!s.protectedMode()) {
            long ip = stack.pop(opSize), cs = stack.pop(opSize), fl = stack.pop(opSize);
            writeFlags(fl, opSize, true);
            desc.loadRealCode((int) cs);
            dec.moveIp(ip & (opSize == 2 ? 0xFFFF : 0xFFFF_FFFFL));
            return;
        }
        if ((s.flags.system & Flags.NT) != 0) {
            if (s.longMode()) throw GuestFault.gp(0); // long mode has no task return
            tasks.iret(dec.ip & 0xFFFF_FFFFL);
            return;
        }
        boolean m64 = s.mode64();
        long ip = stack.pop(opSize);
        int cs = (int) stack.pop(opSize) & 0xFFFF;
        long fl = stack.pop(opSize);
        int rpl = cs & 3;
        if (rpl < s.cpl) throw GuestFault.gp(cs & ~3);
        if ((cs & ~3) == 0) throw GuestFault.gp(0);
        long d = desc.readDescriptor(cs, GuestFault.GP);
        int a = Descriptors.attr(d);
        if ((a & A_S) == 0 || (a & 8) == 0) throw GuestFault.gp(cs & ~3);
        if ((a & A_P) == 0) throw GuestFault.of(GuestFault.NP, cs & ~3);
        codeTarget(d, ip);
        boolean outer = rpl > s.cpl;
        long sp = 0;
        int ss = 0;
        if (outer || m64) {
            sp = stack.pop(opSize);
            ss = (int) stack.pop(opSize) & 0xFFFF;
        }
        writeFlags(fl, opSize, true);
        int oldCpl = s.cpl;
        desc.loadCode(cs, d, rpl);
        dec.moveIp(ip);
        if (outer || m64) {
            if ((ss & ~3) == 0 && s.longMode() && rpl != 3 && (a & A_L) != 0) {
                s.segSel[SS] = ss;
                s.segBase[SS] = 0;
                s.segAttr[SS] = (rpl << 5) | A_DB;
            } else {
                desc.loadSegment(SS, ss);
            }
            long mask = (a & A_L) != 0 ? -1L : (s.segAttr[SS] & A_DB) != 0 ? 0xFFFF_FFFFL : 0xFFFF;
            r[RSP] = opSize == 2 ? (r[RSP] & ~0xFFFFL) | (sp & 0xFFFF) : sp & mask;
        }
        if (rpl > oldCpl) nullifyDataSegments();
    }

    /** Returning to an outer ring drops data segments the new ring may not use. */
    private void nullifyDataSegments() {
        for (int sr : new int[] {ES, DS, FS, GS}) {
            int a = s.segAttr[sr];
            boolean conformingCode = (a & 0xC) == 0xC;
            if ((a & A_P) != 0 && !conformingCode && ((a >> 5) & 3) < s.cpl) {
                s.segSel[sr] = 0;
                s.segAttr[sr] = 0;
            }
        }
    }

    void farJump(int sel, long off) {
        if (!s.protectedMode() || (s.flags.system & Flags.VM) != 0) {
            desc.loadRealCode(sel);
            dec.moveIp(off & 0xFFFF_FFFFL);
            return;
        }
        if ((sel & ~3) == 0) throw GuestFault.gp(0);
        long d = desc.readDescriptor(sel, GuestFault.GP);
        int a = Descriptors.attr(d);
        if ((a & A_S) == 0) {
            if (!s.longMode() && TaskSwitch.isTaskTarget(d)) {
                tasks.farTransfer(sel, d, TaskSwitch.Kind.JMP, dec.ip & 0xFFFF_FFFFL);
                return;
            }
            if (!TaskSwitch.isTaskTarget(d)) {
                logUnimplemented("a far transfer through a call gate (selector 0x" + Integer.toHexString(sel) + ")");
            }
            throw GuestFault.gp(sel & ~3);
        }
        if ((a & 8) == 0) throw GuestFault.gp(sel & ~3);
        int dpl = (a >> 5) & 3;
        boolean conforming = (a & 4) != 0;
        if (conforming ? dpl > s.cpl : (dpl != s.cpl || (sel & 3) > s.cpl)) throw GuestFault.gp(sel & ~3);
        if ((a & A_P) == 0) throw GuestFault.of(GuestFault.NP, sel & ~3);
        long target = codeTarget(d, off);
        desc.loadCode(sel, d, s.cpl);
        dec.moveIp(target);
    }

    /**
     * The instruction pointer a far transfer to code descriptor {@code d} at {@code off} lands on, checked
     * against the new CS's limit (#GP(0) before anything changes) unless the new CS is 64-bit code.
     */
    private long codeTarget(long d, long off) {
        int a = Descriptors.attr(d);
        if (s.longMode() && (a & A_L) != 0) return off;
        long ip = off & ((a & A_DB) != 0 ? 0xFFFF_FFFFL : 0xFFFF);
        if (ip > Descriptors.limit(d)) throw GuestFault.gp(0);
        return ip;
    }

    /**
     * CALL far to {@code sel}: if it names a TSS or a task gate (protected mode outside long mode), switches
     * to that task and returns true; else returns false and the caller makes an ordinary far call.
     */
    boolean taskCall(int sel, long nextIp) {
        if (!s.protectedMode() || (s.flags.system & Flags.VM) != 0 || s.longMode() || (sel & ~3) == 0) return false;
        long d = desc.readDescriptor(sel, GuestFault.GP);
        if (!TaskSwitch.isTaskTarget(d)) return false;
        tasks.farTransfer(sel, d, TaskSwitch.Kind.CALL, nextIp & 0xFFFF_FFFFL);
        return true;
    }

    void farReturn(int opSize, int extra) {
        long ip = stack.pop(opSize);
        int cs = (int) stack.pop(opSize) & 0xFFFF;
        if (!s.protectedMode() || (s.flags.system & Flags.VM) != 0) {
            desc.loadRealCode(cs);
            dec.moveIp(ip & 0xFFFF_FFFFL);
            r[RSP] += extra;
            return;
        }
        int rpl = cs & 3;
        if (rpl < s.cpl || (cs & ~3) == 0) throw GuestFault.gp(cs & ~3);
        long d = desc.readDescriptor(cs, GuestFault.GP);
        int a = Descriptors.attr(d);
        if ((a & A_S) == 0 || (a & 8) == 0) throw GuestFault.gp(cs & ~3);
        if ((a & A_P) == 0) throw GuestFault.of(GuestFault.NP, cs & ~3);
        codeTarget(d, ip);
        r[RSP] += extra;
        if (rpl > s.cpl) {
            long sp = stack.pop(opSize);
            int ss = (int) stack.pop(opSize) & 0xFFFF;
            desc.loadCode(cs, d, rpl);
            desc.loadSegment(SS, ss);
            r[RSP] = sp + extra;
            nullifyDataSegments();
        } else {
            desc.loadCode(cs, d, s.cpl);
        }
        dec.moveIp(s.mode64() ? ip : ip & ((a & A_DB) != 0 ? 0xFFFF_FFFFL : 0xFFFF));
    }

    void syscall(long nextIp) {
        if ((s.efer & EFER_SCE) == 0 || !s.longMode()) throw GuestFault.ud();
        if (!s.mode64()) throw GuestFault.ud(); // as on Intel CPUs, which CPUID says this is
        r[RCX] = nextIp;
        r[11] = s.flags.get() & ~Flags.RF;
        int sel = (int) (s.star >>> 32) & 0xFFFC;
        desc.loadFlat(CS, sel, ATTR_CODE64);
        desc.loadFlat(SS, sel + 8, ATTR_DATA);
        s.flags.load(s.flags.get() & ~s.sfmask & ~Flags.RF);
        s.cpl = 0;
        dec.modeChanged();
        dec.moveIp(s.lstar);
    }

    void sysret(boolean to64) {
        if ((s.efer & EFER_SCE) == 0 || !s.mode64()) throw GuestFault.ud();
        if (s.cpl != 0) throw GuestFault.gp(0);
        long target = to64 ? r[RCX] : r[RCX] & 0xFFFF_FFFFL;
        if (((target << 16) >> 16) != target) throw GuestFault.gp(0);
        int base = (int) (s.star >>> 48) & 0xFFFF;
        if (to64) desc.loadFlat(CS, (base + 16) | 3, ATTR_CODE64 | (3 << 5));
        else desc.loadFlat(CS, base | 3, ATTR_CODE32 | (3 << 5));
        desc.loadFlat(SS, (base + 8) | 3, ATTR_DATA | (3 << 5));
        s.flags.load((r[11] & 0x3C_7FD7L) | 2);
        s.cpl = 3;
        dec.modeChanged();
        dec.moveIp(target);
    }

    /** POPF/IRET RFLAGS update with the privilege rules for IOPL and IF. */
    void writeFlags(long v, int size, boolean iret) {
        long writable = Flags.ARITH | Flags.TF | Flags.DF | Flags.NT | Flags.AC | Flags.ID;
        if (s.cpl == 0 || !s.protectedMode()) writable |= Flags.IOPL;
        if (s.cpl <= s.flags.iopl() || !s.protectedMode()) writable |= Flags.IF;
        if (iret) writable |= Flags.RF;
        if (size == 2) writable &= 0xFFFF;
        long old = s.flags.get();
        long next = (old & ~writable) | (v & writable);
        if (!iret) next &= ~Flags.RF;
        s.flags.load(next);
    }

    void writeFlagsFromPop(long v, int size) {
        if ((s.flags.system & Flags.VM) != 0 && s.flags.iopl() < 3) throw GuestFault.gp(0);
        writeFlags(v, size, false);
    }

    // ============================================================ control registers

    long readCr(int n) {
        return switch (n) {
            case 0 -> s.cr0;
            case 2 -> s.cr2;
            case 3 -> s.cr3;
            case 4 -> s.cr4;
            case 8 -> apic == null ? 0 : apic.cr8();
            default -> throw GuestFault.ud();
        };
    }

    void writeCr(int n, long v) {
        switch (n) {
            case 0 -> writeCr0(v);
            case 2 -> s.cr2 = v;
            case 3 -> writeCr3(v);
            case 4 -> {
                // Only the bits whose features are advertised or harmless: VME..OSXMMEXCPT, and PCIDE.
                if ((v & ~(0x7FFL | CR4_PCIDE)) != 0) throw GuestFault.gp(0);
                if (s.longMode() && (v & CR4_PAE) == 0) throw GuestFault.gp(0);
                // PCIDE may be set only in IA-32e mode and while CR3 names PCID 0 (SDM, MOV to CR4).
                if ((v & ~s.cr4 & CR4_PCIDE) != 0 && (!s.longMode() || (s.cr3 & 0xFFF) != 0)) throw GuestFault.gp(0);
                s.cr4 = v;
                mmu.flushAll(); // every PCID's translations too (clearing PCIDE must drop them all)
            }
            case 8 -> {
                if ((v & ~0xFL) != 0) throw GuestFault.gp(0);
                if (apic != null) apic.setCr8(v);
            }
            default -> throw GuestFault.ud();
        }
    }

    /**
     * MOV to CR3. With CR4.PCIDE on, bits 11:0 are the PCID the TLB translates for from now on, and bit 63
     * set (not stored) keeps that PCID's translations instead of flushing them. Without PCIDE, every write
     * flushes all but the global translations.
     */
    private void writeCr3(long v) {
        if ((s.cr4 & CR4_PCIDE) != 0) {
            s.cr3 = v & 0x000F_FFFF_FFFF_FFFFL;
            mmu.loadPcid((int) (v & 0xFFF), v >= 0);
        } else {
            s.cr3 = v & 0x000F_FFFF_FFFF_FFF8L;
            mmu.flushNonGlobal();
        }
    }

    void writeCr0(long v) {
        v &= 0xFFFF_FFFFL;
        if ((v & CR0_PG) != 0 && (v & CR0_PE) == 0) throw GuestFault.gp(0);
        // Paging stays on while PCIDs are (SDM, MOV to CR0: clearing PG with CR4.PCIDE set is #GP).
        if ((v & CR0_PG) == 0 && (s.cr4 & CR4_PCIDE) != 0) throw GuestFault.gp(0);
        long old = s.cr0;
        boolean pagingOn = (old & CR0_PG) == 0 && (v & CR0_PG) != 0;
        boolean pagingOff = (old & CR0_PG) != 0 && (v & CR0_PG) == 0;
        if (pagingOn && (s.efer & EFER_LME) != 0) {
            if ((s.cr4 & CR4_PAE) == 0) throw GuestFault.gp(0);
            s.efer |= EFER_LMA;
        }
        if (pagingOff && s.longMode()) {
            if (s.mode64()) throw GuestFault.gp(0);
            s.efer &= ~EFER_LMA;
        }
        s.cr0 = v | CR0_ET;
        if (((old ^ v) & (CR0_PG | CR0_WP | CR0_PE)) != 0) mmu.flushAll();
        if ((v & CR0_PE) == 0) s.cpl = 0;
        dec.modeChanged();
    }

    // ============================================================ MSRs

    static final int MSR_TSC = 0x10, MSR_TSC_ADJUST = 0x3B, MSR_APIC_BASE = 0x1B, MSR_FEATURE_CONTROL = 0x3A, MSR_UCODE_REV = 0x8B,
            MSR_PLATFORM_ID = 0x17, MSR_ARCH_CAPABILITIES = 0x10A, MSR_SYSENTER_CS = 0x174,
            MSR_SYSENTER_ESP = 0x175, MSR_SYSENTER_EIP = 0x176, MSR_MISC_ENABLE = 0x1A0, MSR_DEBUGCTL = 0x1D9,
            MSR_PAT = 0x277, MSR_EFER = 0xC000_0080, MSR_STAR = 0xC000_0081, MSR_LSTAR = 0xC000_0082,
            MSR_CSTAR = 0xC000_0083, MSR_SFMASK = 0xC000_0084, MSR_FS_BASE = 0xC000_0100,
            MSR_GS_BASE = 0xC000_0101, MSR_KERNEL_GS_BASE = 0xC000_0102, MSR_TSC_AUX = 0xC000_0103;

    private long debugCtl;

    long rdmsr(int index) {
        switch (index) {
            case MSR_TSC: return tsc.read();
            case MSR_TSC_ADJUST: return tsc.adjust();
            case MSR_FEATURE_CONTROL: return 1; // locked, nothing enabled
            case MSR_UCODE_REV, MSR_PLATFORM_ID: return 0;
            case MSR_ARCH_CAPABILITIES: return Cpuid.ARCH_CAPABILITIES;
            case MSR_SYSENTER_CS: return s.sysenterCs;
            case MSR_SYSENTER_ESP: return s.sysenterEsp;
            case MSR_SYSENTER_EIP: return s.sysenterEip;
            case MSR_MISC_ENABLE: return s.miscEnable;
            case MSR_DEBUGCTL: return debugCtl;
            case MSR_PAT: return s.pat;
            case MSR_EFER: return s.efer;
            case MSR_STAR: return s.star;
            case MSR_LSTAR: return s.lstar;
            case MSR_CSTAR: return s.cstar;
            case MSR_SFMASK: return s.sfmask;
            case MSR_FS_BASE: return s.segBase[FS];
            case MSR_GS_BASE: return s.segBase[GS];
            case MSR_KERNEL_GS_BASE: return s.kernelGsBase;
            case MSR_TSC_AUX: return s.tscAux;
            default:
                if (apic != null) {
                    Long v = apic.readMsr(index);
                    if (v != null) return v;
                }
                logUnknown(index, "rdmsr");
                throw GuestFault.gp(0);
        }
    }

    void wrmsr(int index, long v) {
        switch (index) {
            case MSR_TSC -> tsc.write(v);
            case MSR_TSC_ADJUST -> tsc.setAdjust(v);
            case MSR_UCODE_REV, MSR_PLATFORM_ID -> { }
            case MSR_SYSENTER_CS -> s.sysenterCs = v & 0xFFFF;
            case MSR_SYSENTER_ESP -> s.sysenterEsp = canonical(v);
            case MSR_SYSENTER_EIP -> s.sysenterEip = canonical(v);
            case MSR_MISC_ENABLE -> s.miscEnable = v;
            case MSR_DEBUGCTL -> debugCtl = v & 0x3; // LBR/BTF bits stored, no effect
            case MSR_PAT -> s.pat = v;
            case MSR_EFER -> {
                if ((v & ~(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE)) != 0) throw GuestFault.gp(0);
                if (s.paging() && ((v ^ s.efer) & EFER_LME) != 0) throw GuestFault.gp(0);
                long old = s.efer;
                s.efer = (v & ~EFER_LMA) | (old & EFER_LMA);
                if (((old ^ v) & EFER_NXE) != 0) mmu.flushAll();
            }
            case MSR_STAR -> s.star = v;
            case MSR_LSTAR -> s.lstar = canonical(v);
            case MSR_CSTAR -> s.cstar = canonical(v);
            case MSR_SFMASK -> s.sfmask = v & 0xFFFF_FFFFL;
            case MSR_FS_BASE -> s.segBase[FS] = canonical(v);
            case MSR_GS_BASE -> s.segBase[GS] = canonical(v);
            case MSR_KERNEL_GS_BASE -> s.kernelGsBase = canonical(v);
            case MSR_TSC_AUX -> s.tscAux = v & 0xFFFF_FFFFL;
            default -> {
                if (apic != null && apic.writeMsr(index, v)) return;
                logUnknown(index, "wrmsr");
                throw GuestFault.gp(0);
            }
        }
    }

    private static long canonical(long v) {
        if (((v << 16) >> 16) != v) throw GuestFault.gp(0);
        return v;
    }

    /** Logs once per kind what this CPU does not implement; the guest gets #GP instead of the VM ending. */
    private static void logUnimplemented(String what) {
        if (LOGGED_UNIMPLEMENTED.add(what.replaceAll(" \\(.*", ""))) {
            LOG.warning(() -> "emu: " + what + " is not implemented: #GP to the guest");
        }
    }

    private static void logUnknown(int index, String what) {
        if (LOGGED_MSRS.add(index)) {
            LOG.info(() -> String.format("emu: %s of unimplemented MSR 0x%x (raising #GP)", what, index));
        }
    }
}
