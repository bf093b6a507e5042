package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.mmu.Mmu;

import static dev.flint.engine.emu.cpu.CpuState.*;

/**
 * The stack and control transfer family: PUSH/POP (registers, memory, immediates, segment registers,
 * PUSHA/POPA, PUSHF/POPF), ENTER/LEAVE, Jcc, JMP, CALL, RET (near and far), LOOP/JCXZ, INT n/INT3/INTO/
 * INT1 and IRET. Far transfers, interrupts and IRET go on in {@link Interrupts}.
 *
 * <p>Runs on the decoder's state of the current instruction ({@link Decoder}): it fetches its own ModRM
 * and immediates from there. {@link Interpreter} dispatches to it; it never calls back up.
 */
final class ControlInstructions {
    private final Decoder dec;
    private final CpuState s;
    private final long[] r;
    private final Flags flags;
    private final Mmu mmu;
    private final Stack stack;
    private final Descriptors desc;
    private final Interrupts irq;

    ControlInstructions(Decoder dec, CpuState s, Mmu mmu, Stack stack, Descriptors desc, Interrupts irq) {
        this.dec = dec;
        this.s = s;
        this.r = s.gpr;
        this.flags = s.flags;
        this.mmu = mmu;
        this.stack = stack;
        this.desc = desc;
        this.irq = irq;
    }

    void oneByte(int op) {
        switch (op) {
            case 0x06, 0x0E, 0x16, 0x1E -> { dec.noLong(); stack.push(dec.opSize, s.segSel[op >> 3]); }
            case 0x07, 0x17, 0x1F -> {
                dec.noLong();
                int sel = (int) stack.pop(dec.opSize) & 0xFFFF;
                desc.loadSegment(op >> 3, sel);
                if (op == 0x17) s.interruptShadow = true;
            }
            case 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57 -> {
                int z = dec.stackOpSize();
                stack.push(z, dec.getReg((op & 7) | dec.rexB, z));
            }
            case 0x58, 0x59, 0x5A, 0x5B, 0x5C, 0x5D, 0x5E, 0x5F -> {
                int z = dec.stackOpSize();
                long v = stack.pop(z);
                dec.setReg((op & 7) | dec.rexB, z, v);
            }
            case 0x60 -> {
                dec.noLong();
                long sp = dec.getReg(RSP, dec.opSize);
                for (int i = 0; i < 8; i++) stack.push(dec.opSize, i == RSP ? sp : dec.getReg(i, dec.opSize));
            }
            case 0x61 -> {
                dec.noLong();
                for (int i = 7; i >= 0; i--) {
                    long v = stack.pop(dec.opSize);
                    if (i != RSP) dec.setReg(i, dec.opSize, v);
                }
            }
            case 0x68 -> { int z = dec.stackOpSize(); stack.push(z, Alu.sext(dec.fetchImm(Math.min(z, 4)), Math.min(z, 4))); }
            case 0x6A -> stack.push(dec.stackOpSize(), (byte) dec.fetch8());
            case 0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x7B, 0x7C, 0x7D, 0x7E, 0x7F -> {
                long d = (byte) dec.fetch8();
                if (flags.cond(op & 15)) dec.relJump(d);
            }
            case 0x8F -> {
                dec.decodeModrm();
                int z = dec.stackOpSize();
                // POP to memory computes the address with the already incremented RSP.
                long oldSp = r[RSP];
                long v = stack.pop(z);
                try {
                    dec.writeE(z, v);
                } catch (GuestFault f) {
                    r[RSP] = oldSp;
                    throw f;
                }
            }
            case 0x9A -> {
                dec.noLong();
                long off = dec.fetchImm(dec.opSize);
                int sel = dec.fetch16();
                farCall(sel, off);
            }
            case 0x9C -> {
                if (isVm86OrIoplFault()) throw GuestFault.gp(0);
                stack.push(dec.stackOpSize(), flags.get() & ~(Flags.VM | Flags.RF));
            }
            case 0x9D -> {
                int z = dec.stackOpSize();
                long v = stack.pop(z);
                irq.writeFlagsFromPop(v, z);
            }
            case 0xC2 -> { int n = dec.fetch16(); int z = dec.stackOpSize(); long t = stack.pop(z); r[RSP] = addSp(n); dec.jumpTo(t); }
            case 0xC3 -> { int z = dec.stackOpSize(); dec.jumpTo(stack.pop(z)); }
            case 0xC8 -> enter();
            case 0xC9 -> {
                long m = stack.spMask();
                r[RSP] = (r[RSP] & ~m) | (r[RBP] & m);
                int z = dec.stackOpSize();
                dec.setReg(RBP, z, stack.pop(z));
            }
            case 0xCA -> { int n = dec.fetch16(); irq.farReturn(dec.opSize, n); }
            case 0xCB -> irq.farReturn(dec.opSize, 0);
            case 0xCC -> irq.softwareInterrupt(GuestFault.BP, dec.ip);
            case 0xCD -> { int v = dec.fetch8(); irq.softwareInterrupt(v, dec.ip); }
            case 0xCE -> { dec.noLong(); if (flags.of()) irq.softwareInterrupt(GuestFault.OF, dec.ip); }
            case 0xCF -> {
                irq.iret(dec.opSize);
                s.nmiBlocked = false;
            }
            case 0xE0, 0xE1, 0xE2 -> {
                long d = (byte) dec.fetch8();
                long m = dec.adMask();
                long c = (r[RCX] - 1) & m;
                dec.setAddressReg(RCX, c, m);
                boolean take = c != 0 && (op == 0xE2 || (op == 0xE1) == flags.zf());
                if (take) dec.relJump(d);
            }
            case 0xE3 -> { long d = (byte) dec.fetch8(); if ((r[RCX] & dec.adMask()) == 0) dec.relJump(d); }
            case 0xE8 -> {
                int z = dec.mode64 ? 4 : dec.opSize;
                long d = Alu.sext(dec.fetchImm(z), z);
                stack.push(dec.stackOpSize(), dec.ip);
                dec.relJump(d);
            }
            case 0xE9 -> { int z = dec.mode64 ? 4 : dec.opSize; long d = Alu.sext(dec.fetchImm(z), z); dec.relJump(d); }
            case 0xEA -> {
                dec.noLong();
                long off = dec.fetchImm(dec.opSize);
                int sel = dec.fetch16();
                irq.farJump(sel, off);
            }
            case 0xEB -> { long d = (byte) dec.fetch8(); dec.relJump(d); }
            case 0xF1 -> irq.softwareInterrupt(GuestFault.DB, dec.ip);
            case 0xFF -> group5();
            default -> throw dec.undefined(op);
        }
    }

    void twoByte(int op) {
        switch (op) {
            case 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8B, 0x8C, 0x8D, 0x8E, 0x8F -> {
                int z = dec.mode64 ? 4 : dec.opSize;
                long d = Alu.sext(dec.fetchImm(z), z);
                if (flags.cond(op & 15)) dec.relJump(d);
            }
            case 0xA0, 0xA8 -> stack.push(dec.stackOpSize(), s.segSel[op == 0xA0 ? FS : GS]);
            case 0xA1, 0xA9 -> {
                int z = dec.stackOpSize();
                int sel = (int) stack.peek(z, 0) & 0xFFFF;
                desc.loadSegment(op == 0xA1 ? FS : GS, sel);
                stack.pop(z);
            }
            default -> throw dec.undefined(0x0F00 | op);
        }
    }

    long addSp(long n) {
        long m = stack.spMask();
        return (r[RSP] & ~m) | ((r[RSP] + n) & m);
    }

    boolean isVm86OrIoplFault() { return (flags.system & Flags.VM) != 0 && flags.iopl() < 3; }

    void enter() {
        int size = dec.fetch16();
        int level = dec.fetch8() & 31;
        int z = dec.stackOpSize();
        stack.push(z, dec.getReg(RBP, z));
        long frame = dec.getReg(RSP, z);
        if (level > 0) {
            long bp = dec.getReg(RBP, z);
            for (int i = 1; i < level; i++) {
                bp = (bp - z) & Alu.mask(z == 8 ? 8 : stack.size());
                stack.push(z, mmu.read(dec.linear(SS, bp & stack.spMask(), z, false), z));
            }
            stack.push(z, frame);
        }
        dec.setReg(RBP, z, frame);
        r[RSP] = addSp(-size);
    }

    void group5() {
        dec.decodeModrm();
        int op = dec.reg & 7;
        switch (op) {
            case 0, 1 -> dec.rmw(Alu.K_UNARY, op, dec.opSize, 0, true);
            case 2 -> { // CALL near indirect
                int z = dec.stackOpSize();
                long t = dec.readE(z);
                stack.push(z, dec.ip);
                dec.jumpTo(t);
            }
            case 3, 5 -> { // CALL/JMP far indirect
                if (!dec.memOp) throw dec.ud();
                int z = dec.opSize;
                long lin = dec.ea(z + 2, false);
                long off = mmu.read(lin, z);
                int sel = (int) mmu.read(lin + z, 2);
                if (op == 3) farCall(sel, off);
                else irq.farJump(sel, off);
            }
            case 4 -> dec.jumpTo(dec.readE(dec.stackOpSize()));
            case 6 -> { int z = dec.stackOpSize(); stack.push(z, dec.readE(z)); }
            default -> throw dec.ud();
        }
    }

    void farCall(int sel, long off) {
        if (irq.taskCall(sel, dec.ip)) return; // CALL to a TSS or task gate: the new task's stack gets nothing
        int z = dec.opSize;
        int oldCs = s.segSel[CS];
        long retIp = dec.ip;
        irq.farJump(sel, off);
        stack.push(z, oldCs);
        stack.push(z, retIp);
    }
}
