package dev.flint.engine.emu.cpu;

import dev.flint.arch.x86.CpuBootState;
import dev.flint.arch.x86.Segment;

/**
 * The architectural register file of one vCPU: GPRs, RIP, RFLAGS, segment registers with their hidden
 * descriptor caches, descriptor-table registers, control registers and the MSR-backed values the core
 * itself owns. Plain fields: only the vCPU's own thread touches them.
 */
public final class CpuState {
    public static final int ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5, LDTR = 6, TR = 7;
    public static final int RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;

    /** Segment attribute bits, laid out like VMX access rights. */
    public static final int A_S = 1 << 4, A_P = 1 << 7, A_L = 1 << 13, A_DB = 1 << 14, A_G = 1 << 15;

    public static final long CR0_PE = 1, CR0_MP = 2, CR0_EM = 4, CR0_TS = 8, CR0_ET = 16, CR0_NE = 32,
            CR0_WP = 1L << 16, CR0_AM = 1L << 18, CR0_NW = 1L << 29, CR0_CD = 1L << 30, CR0_PG = 1L << 31;
    public static final long CR4_PSE = 1 << 4, CR4_PAE = 1 << 5, CR4_PGE = 1 << 7, CR4_OSFXSR = 1 << 9,
            CR4_OSXMMEXCPT = 1 << 10, CR4_PCIDE = 1 << 17;
    public static final long EFER_SCE = 1, EFER_LME = 1 << 8, EFER_LMA = 1 << 10, EFER_NXE = 1 << 11;

    public final long[] gpr = new long[16];
    public long rip;
    public final Flags flags = new Flags();

    public final int[] segSel = new int[8];
    public final long[] segBase = new long[8];
    public final long[] segLimit = new long[8];
    public final int[] segAttr = new int[8];

    public long gdtBase, idtBase;
    public int gdtLimit, idtLimit;

    public long cr0 = 0x6000_0010L, cr2, cr3, cr4, efer;
    public final long[] dr = {0, 0, 0, 0, 0xFFFF0FF0L, 0x400, 0xFFFF0FF0L, 0x400};

    public long star, lstar, cstar, sfmask, kernelGsBase, pat = 0x0007_0406_0007_0406L, miscEnable = 1;
    public long tscAux;
    public long sysenterCs, sysenterEsp, sysenterEip;

    /** Current privilege level (CS.DPL, or 0 in real mode). */
    public int cpl;

    // Execution state beside the registers (what a VMCS keeps as activity and interruptibility state).
    // Written by the instructions (STI, MOV SS, HLT, IRET) and read by the runner; saved by Cpu.save.
    /** Set by STI/MOV SS/POP SS: no interrupt before the next instruction completes. */
    boolean interruptShadow;
    /** HLT: waiting for an interrupt. */
    boolean halted;
    /** Set while an NMI handler runs: further NMIs wait for its IRET. */
    boolean nmiBlocked;

    public boolean longMode() { return (efer & EFER_LMA) != 0; }

    /** 64-bit mode: long mode and CS.L. */
    public boolean mode64() { return (efer & EFER_LMA) != 0 && (segAttr[CS] & A_L) != 0; }

    public boolean protectedMode() { return (cr0 & CR0_PE) != 0; }

    public boolean paging() { return (cr0 & CR0_PG) != 0; }

    public void setSegment(int reg, Segment s) {
        segSel[reg] = s.selector();
        segBase[reg] = s.base();
        segLimit[reg] = s.limit() & 0xFFFF_FFFFL;
        segAttr[reg] = (s.type() & 0xF) | (s.s() ? A_S : 0) | (s.dpl() << 5) | (s.present() ? A_P : 0)
                | (s.l() ? A_L : 0) | (s.db() ? A_DB : 0) | (s.g() ? A_G : 0);
    }

    /** Loads the state the boot loader prepared. */
    public void load(CpuBootState b) {
        gpr[RAX] = b.rax(); gpr[RBX] = b.rbx(); gpr[RCX] = b.rcx(); gpr[RDX] = b.rdx();
        gpr[RSI] = b.rsi(); gpr[RDI] = b.rdi(); gpr[RSP] = b.rsp(); gpr[RBP] = b.rbp();
        rip = b.rip();
        flags.load(b.rflags());
        setSegment(CS, b.cs()); setSegment(DS, b.ds()); setSegment(ES, b.es()); setSegment(FS, b.fs());
        setSegment(GS, b.gs()); setSegment(SS, b.ss()); setSegment(TR, b.tr()); setSegment(LDTR, b.ldt());
        gdtBase = b.gdtBase(); gdtLimit = b.gdtLimit(); idtBase = b.idtBase(); idtLimit = b.idtLimit();
        cr0 = b.cr0(); cr3 = b.cr3(); cr4 = b.cr4(); efer = b.efer();
        cpl = protectedMode() ? (segAttr[CS] >> 5) & 3 : 0;
    }

    /** Reset to wait-for-SIPI state (INIT): real mode, caches cleared, registers like power-on. */
    public void resetForInit() {
        load(CpuBootState.reset());
        java.util.Arrays.fill(gpr, 0);
        gpr[RDX] = 0x600;
        cr2 = 0;
    }

    /** Snapshot: every field, in declaration order. */
    public void save(dev.flint.machine.state.StateWriter.Section out) {
        out.putLongs(gpr).putLong(rip).putLong(flags.get());
        out.putInts(segSel).putLongs(segBase).putLongs(segLimit).putInts(segAttr);
        out.putLong(gdtBase).putLong(idtBase).putInt(gdtLimit).putInt(idtLimit);
        out.putLongs(new long[] {cr0, cr2, cr3, cr4, efer}).putLongs(dr);
        out.putLongs(new long[] {star, lstar, cstar, sfmask, kernelGsBase, pat, miscEnable, tscAux, sysenterCs,
                sysenterEsp, sysenterEip});
        out.putInt(cpl);
    }

    public void restore(dev.flint.machine.state.StateReader.Section in) {
        in.readLongs(gpr);
        rip = in.getLong();
        flags.load(in.getLong());
        in.readInts(segSel);
        in.readLongs(segBase);
        in.readLongs(segLimit);
        in.readInts(segAttr);
        gdtBase = in.getLong();
        idtBase = in.getLong();
        gdtLimit = in.getInt();
        idtLimit = in.getInt();
        long[] c = in.getLongs(5);
        cr0 = c[0]; cr2 = c[1]; cr3 = c[2]; cr4 = c[3]; efer = c[4];
        in.readLongs(dr);
        long[] m = in.getLongs(11);
        star = m[0]; lstar = m[1]; cstar = m[2]; sfmask = m[3]; kernelGsBase = m[4]; pat = m[5]; miscEnable = m[6];
        tscAux = m[7]; sysenterCs = m[8]; sysenterEsp = m[9]; sysenterEip = m[10];
        cpl = in.getInt() & 3;
    }

    /** A multi-line register dump for fatal reports. */
    public String dump() {
        StringBuilder sb = new StringBuilder();
        String[] names = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"};
        for (int i = 0; i < 16; i++) {
            sb.append(String.format("%-3s=%016x%s", names[i], gpr[i], (i % 4 == 3) ? "\n" : " "));
        }
        sb.append(String.format("rip=%016x rflags=%016x cpl=%d%n", rip, flags.get(), cpl));
        String[] segs = {"es", "cs", "ss", "ds", "fs", "gs", "ldtr", "tr"};
        for (int i = 0; i < 8; i++) {
            sb.append(String.format("%-4s sel=%04x base=%016x limit=%08x attr=%04x%n",
                    segs[i], segSel[i], segBase[i], segLimit[i], segAttr[i]));
        }
        sb.append(String.format("cr0=%x cr2=%x cr3=%x cr4=%x efer=%x%n", cr0, cr2, cr3, cr4, efer));
        sb.append(String.format("gdt=%x/%x idt=%x/%x", gdtBase, gdtLimit, idtBase, idtLimit));
        return sb.toString();
    }
}
