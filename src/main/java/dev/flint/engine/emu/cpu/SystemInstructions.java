package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.mmu.Mmu;

import static dev.flint.engine.emu.cpu.CpuState.*;

/**
 * The system family: control and debug registers (MOV CRn/DRn, CLTS, LMSW/SMSW), descriptor tables
 * (LGDT/LIDT/SGDT/SIDT, the 0F 00 group, LAR/LSL), INVLPG, MSRs (RDMSR/WRMSR), CPUID, RDTSC/RDTSCP,
 * SWAPGS, SYSCALL/SYSRET, HLT, CLI/STI, IN/OUT, the fences and CLFLUSH, and the hint NOPs. The privileged
 * state itself (what a CR or MSR write does) is in {@link Interrupts}.
 *
 * <p>Runs on the decoder's state of the current instruction ({@link Decoder}): it fetches its own ModRM
 * and immediates from there. {@link Interpreter} dispatches to it; it never calls back up.
 */
final class SystemInstructions {
    private final Decoder dec;
    private final CpuState s;
    private final long[] r;
    private final Flags flags;
    private final Mmu mmu;
    private final Descriptors desc;
    private final Interrupts irq;
    private final PortIo io;
    private final TimeStampCounter tsc;
    private final FpuInstructions fpuOps;
    private final int apicId;
    private final int cpuCount;
    private final int[] cpuidOut = new int[4];

    SystemInstructions(Decoder dec, CpuState s, Mmu mmu, Descriptors desc, Interrupts irq, PortIo io,
                       TimeStampCounter tsc, FpuInstructions fpuOps, int apicId, int cpuCount) {
        this.dec = dec;
        this.s = s;
        this.r = s.gpr;
        this.flags = s.flags;
        this.mmu = mmu;
        this.desc = desc;
        this.irq = irq;
        this.io = io;
        this.tsc = tsc;
        this.fpuOps = fpuOps;
        this.apicId = apicId;
        this.cpuCount = cpuCount;
    }

    void oneByte(int op) {
        switch (op) {
            case 0xE4, 0xE5 -> { int port = dec.fetch8(); in(port, op == 0xE4 ? 1 : Math.min(dec.opSize, 4)); }
            case 0xE6, 0xE7 -> { int port = dec.fetch8(); out(port, op == 0xE6 ? 1 : Math.min(dec.opSize, 4)); }
            case 0xEC, 0xED -> in((int) r[RDX] & 0xFFFF, op == 0xEC ? 1 : Math.min(dec.opSize, 4));
            case 0xEE, 0xEF -> out((int) r[RDX] & 0xFFFF, op == 0xEE ? 1 : Math.min(dec.opSize, 4));
            case 0xF4 -> {
                dec.requireCpl0();
                s.halted = true;
            }
            case 0xFA -> {
                if (flags.iopl() < s.cpl) throw GuestFault.gp(0);
                flags.system &= ~Flags.IF;
            }
            case 0xFB -> {
                if (flags.iopl() < s.cpl) throw GuestFault.gp(0);
                if (!flags.interruptsEnabled()) s.interruptShadow = true;
                flags.system |= Flags.IF;
            }
            default -> throw dec.undefined(op);
        }
    }

    void twoByte(int op) {
        switch (op) {
            case 0x00 -> desc.group6(dec);
            case 0x01 -> group7();
            case 0x02, 0x03 -> {
                dec.decodeModrm();
                desc.larLsl(dec, op == 0x02, (int) dec.readE(2), dec.reg, dec.opSize);
            }
            case 0x05 -> irq.syscall(dec.ip);
            case 0x06 -> { dec.requireCpl0(); s.cr0 &= ~CR0_TS; }
            case 0x07 -> irq.sysret(dec.rexW != 0);
            case 0x08, 0x09 -> dec.requireCpl0(); // INVD/WBINVD: no caches to manage
            case 0x0B -> throw dec.ud();
            case 0x0D -> dec.decodeModrm(); // PREFETCH hints
            case 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F -> dec.decodeModrm(); // hint NOPs
            case 0x20, 0x21, 0x22, 0x23 -> movControl(op);
            case 0x30 -> { dec.requireCpl0(); irq.wrmsr((int) r[RCX], (r[RDX] << 32) | (r[RAX] & 0xFFFF_FFFFL)); }
            case 0x31 -> {
                if ((s.cr4 & 4) != 0 && s.cpl != 0) throw GuestFault.gp(0);
                long t = tsc.read();
                r[RAX] = t & 0xFFFF_FFFFL;
                r[RDX] = t >>> 32;
            }
            case 0x32 -> {
                dec.requireCpl0();
                long v = irq.rdmsr((int) r[RCX]);
                r[RAX] = v & 0xFFFF_FFFFL;
                r[RDX] = v >>> 32;
            }
            case 0xA2 -> {
                Cpuid.query((int) r[RAX], (int) r[RCX], apicId, cpuCount, cpuidOut);
                r[RAX] = cpuidOut[0] & 0xFFFF_FFFFL;
                r[RBX] = cpuidOut[1] & 0xFFFF_FFFFL;
                r[RCX] = cpuidOut[2] & 0xFFFF_FFFFL;
                r[RDX] = cpuidOut[3] & 0xFFFF_FFFFL;
            }
            case 0xAE -> group15();
            default -> throw dec.undefined(0x0F00 | op);
        }
    }

    void in(int port, int z) {
        io.check(port, z);
        dec.setReg(RAX, z, io.read(port, z));
    }

    void out(int port, int z) {
        io.check(port, z);
        io.write(port, z, dec.getReg(RAX, z));
    }

    void group15() {
        int b = dec.fetch8();
        dec.ip--;
        int op = (b >> 3) & 7;
        if ((b >> 6) == 3 && op >= 5) { // LFENCE / MFENCE / SFENCE
            dec.fetch8();
            java.lang.invoke.VarHandle.fullFence();
            return;
        }
        if (op == 7 && (b >> 6) != 3) { // CLFLUSH: caches are coherent here
            dec.decodeModrm();
            mmu.read(dec.ea(1, false), 1);
            return;
        }
        fpuOps.dispatch(FpuInstruction.MAP_0F, 0xAE, true, false);
    }

    void group7() {
        dec.decodeModrm();
        int op = dec.reg & 7;
        if (!dec.memOp) {
            switch (dec.modrm) {
                case 0xF8 -> { // SWAPGS
                    if (!dec.mode64) throw dec.ud();
                    dec.requireCpl0();
                    long t = s.segBase[GS];
                    s.segBase[GS] = s.kernelGsBase;
                    s.kernelGsBase = t;
                }
                case 0xF9 -> { // RDTSCP
                    long t = tsc.read();
                    r[RAX] = t & 0xFFFF_FFFFL;
                    r[RDX] = t >>> 32;
                    r[RCX] = s.tscAux & 0xFFFF_FFFFL;
                }
                case 0xD0 -> throw dec.ud(); // XGETBV: no XSAVE
                default -> {
                    if (op == 4) { dec.setReg(dec.rm, dec.opSize, s.cr0 & 0xFFFF_FFFFL); return; } // SMSW dec.reg
                    if (op == 6) { dec.requireCpl0(); irq.writeCr0((s.cr0 & ~0xEL) | (dec.readE(2) & 0xF)); return; }
                    throw dec.undefined(0x0F0100 | dec.modrm);
                }
            }
            return;
        }
        long lin = op == 7 ? dec.linearUnchecked(dec.eaSeg, (dec.ripRel ? dec.ip + dec.eaOff : dec.eaOff) & dec.adMask()) // INVLPG accesses nothing
                : dec.ea(op <= 3 ? 2 + (dec.mode64 ? 8 : 4) : 2, op == 0 || op == 1 || op == 4);
        int baseSize = dec.mode64 ? 8 : 4;
        switch (op) {
            case 0, 1 -> {
                mmu.write(lin, 2, op == 0 ? s.gdtLimit : s.idtLimit);
                mmu.write(lin + 2, baseSize, op == 0 ? s.gdtBase : s.idtBase);
            }
            case 2, 3 -> {
                dec.requireCpl0();
                int limit = (int) mmu.read(lin, 2);
                long base = mmu.read(lin + 2, baseSize);
                if (!dec.mode64 && dec.opSize == 2) base &= 0xFF_FFFF;
                if (op == 2) { s.gdtLimit = limit; s.gdtBase = base; }
                else { s.idtLimit = limit; s.idtBase = base; }
            }
            case 4 -> mmu.write(lin, 2, s.cr0);
            case 6 -> { dec.requireCpl0(); irq.writeCr0((s.cr0 & ~0xEL) | (mmu.read(lin, 2) & 0xF)); }
            case 7 -> { dec.requireCpl0(); mmu.flushPage(lin); }
            default -> throw dec.ud();
        }
    }

    void movControl(int op) {
        int b = dec.fetch8();
        // The ModRM is always treated as a register form.
        int n = ((b >> 3) & 7) | dec.rexR;
        int g = (b & 7) | dec.rexB;
        dec.requireCpl0();
        int z = dec.mode64 ? 8 : 4;
        switch (op) {
            case 0x20 -> dec.setReg(g, z, irq.readCr(n));
            case 0x22 -> irq.writeCr(n, dec.getReg(g, z));
            case 0x21 -> dec.setReg(g, z, s.dr[n & 7]);
            default -> s.dr[n & 7] = dec.getReg(g, z);
        }
    }
}
