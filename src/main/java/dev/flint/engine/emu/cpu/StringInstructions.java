package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.mmu.Mmu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static dev.flint.engine.emu.cpu.CpuState.*;

/**
 * The string family: MOVS, CMPS, STOS, LODS, SCAS, INS and OUTS with their REP/REPE/REPNE forms. A REP
 * runs in chunks (the instruction restarts itself after {@link #REP_CHUNK} iterations so interrupts are
 * taken), and forward REP MOVS/STOS within a page of RAM are done as one bulk copy or fill.
 *
 * <p>Runs on the decoder's state of the current instruction ({@link Decoder}): it fetches its own ModRM
 * and immediates from there. {@link Interpreter} dispatches to it; it never calls back up.
 */
final class StringInstructions {
    private final Decoder dec;
    private final CpuState s;
    private final long[] r;
    private final Flags flags;
    private final Mmu mmu;
    private final MemorySegment ram;
    private final PortIo io;
    /** Iterations of a REP string instruction run per step before yielding to interrupt checks. */
    static final int REP_CHUNK = 1 << 14;

    StringInstructions(Decoder dec, CpuState s, Mmu mmu, PortIo io) {
        this.dec = dec;
        this.s = s;
        this.r = s.gpr;
        this.flags = s.flags;
        this.mmu = mmu;
        this.ram = mmu.ram();
        this.io = io;
    }

    void oneByte(int op) {
        switch (op) {
            case 0x6C, 0x6D, 0x6E, 0x6F -> strings(op);
            case 0xA4, 0xA5, 0xA6, 0xA7, 0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xAF -> strings(op);
            default -> throw dec.undefined(op);
        }
    }

    void strings(int op) {
        int z = (op & 1) == 0 ? 1 : dec.opSize;
        long am = dec.adMask();
        long delta = flags.direction() ? -z : z;
        int srcSeg = dec.seg >= 0 ? dec.seg : DS;
        boolean rep = dec.repPrefix != 0;
        boolean conditional = op == 0xA6 || op == 0xA7 || op == 0xAE || op == 0xAF;
        if (op == 0x6C || op == 0x6D || op == 0x6E || op == 0x6F) io.check((int) (r[RDX] & 0xFFFF), Math.min(z, 4));
        for (int iter = 0; ; iter++) {
            if (rep) {
                if ((r[RCX] & am) == 0) return;
                if (iter == REP_CHUNK) {
                    dec.moveIp(dec.startIp); // resume this instruction after the interrupt window
                    return;
                }
            }
            long si = r[RSI] & am, di = r[RDI] & am;
            switch (op) {
                case 0xA4, 0xA5 -> {
                    if (rep && delta > 0 && tryBulkCopy(srcSeg, si, di, am, z)) continue;
                    mmu.write(dec.linear(ES, di, z, true), z, mmu.read(dec.linear(srcSeg, si, z, false), z));
                    dec.advance(RSI, delta, am);
                    dec.advance(RDI, delta, am);
                }
                case 0xA6, 0xA7 -> {
                    long a = mmu.read(dec.linear(srcSeg, si, z, false), z), b = mmu.read(dec.linear(ES, di, z, false), z);
                    Alu.alu(flags, 7, z, a, b);
                    dec.advance(RSI, delta, am);
                    dec.advance(RDI, delta, am);
                }
                case 0xAA, 0xAB -> {
                    if (rep && delta > 0 && tryBulkFill(di, am, z)) continue;
                    mmu.write(dec.linear(ES, di, z, true), z, dec.getReg(RAX, z));
                    dec.advance(RDI, delta, am);
                }
                case 0xAC, 0xAD -> {
                    dec.setReg(RAX, z, mmu.read(dec.linear(srcSeg, si, z, false), z));
                    dec.advance(RSI, delta, am);
                }
                case 0xAE, 0xAF -> {
                    Alu.alu(flags, 7, z, dec.getReg(RAX, z), mmu.read(dec.linear(ES, di, z, false), z));
                    dec.advance(RDI, delta, am);
                }
                case 0x6C, 0x6D -> {
                    int zz = Math.min(z, 4);
                    long v = io.read(r[RDX] & 0xFFFF, zz);
                    mmu.write(dec.linear(ES, di, zz, true), zz, v);
                    dec.advance(RDI, flags.direction() ? -zz : zz, am);
                }
                default -> {
                    int zz = Math.min(z, 4);
                    io.write(r[RDX] & 0xFFFF, zz, mmu.read(dec.linear(srcSeg, si, zz, false), zz));
                    dec.advance(RSI, flags.direction() ? -zz : zz, am);
                }
            }
            if (!rep) return;
            dec.setAddressReg(RCX, r[RCX] - 1, am);
            if (conditional) {
                boolean zf = flags.zf();
                if (dec.repPrefix == 0xF3 && !zf) return;
                if (dec.repPrefix == 0xF2 && zf) return;
            }
        }
    }

    /**
     * REP MOVS forward within one source and one destination page of RAM: copied in one bulk copy.
     * Falls back (returns false) whenever element-wise semantics could differ: overlap, MMIO, page ends.
     */
    boolean tryBulkCopy(int srcSeg, long si, long di, long am, int z) {
        long count = r[RCX] & am;
        if (!dec.flatSegment(srcSeg) || !dec.flatSegment(ES)) return false; // element by element: each is checked
        long src = dec.linear(srcSeg, si, z, false), dst = dec.linear(ES, di, z, true);
        long n = Math.min(count * z, Math.min(4096 - (src & 0xFFF), 4096 - (dst & 0xFFF))) / z * z;
        if (n < 16 || count > (1L << 40) || Math.abs(src - dst) < n) return false;
        if (am != -1L && (si + n > am || di + n > am)) return false;
        mmu.read(src, 1);
        mmu.write(dst, 1, mmu.read(dst, 1));
        long sp = mmu.translate(src, Mmu.READ), dp = mmu.translate(dst, Mmu.WRITE);
        long sh = mmu.physical().ramPage(sp & ~0xFFFL), dh = mmu.physical().ramPage(dp & ~0xFFFL);
        if (sh < 0 || dh < 0) return false;
        MemorySegment.copy(ram, sh + (sp & 0xFFF), ram, dh + (dp & 0xFFF), n);
        dec.setAddressReg(RSI, si + n, am);
        dec.setAddressReg(RDI, di + n, am);
        dec.setAddressReg(RCX, count - n / z, am);
        return true;
    }

    /** REP STOS forward within one page of RAM, done as a bulk fill. */
    boolean tryBulkFill(long di, long am, int z) {
        long count = r[RCX] & am;
        if (!dec.flatSegment(ES)) return false;
        long dst = dec.linear(ES, di, z, true);
        long bytes = Math.min(count * z, 4096 - (dst & 0xFFF)) / z * z;
        if (bytes < 16 || (dst & (z - 1)) != 0) return false;
        if (am != -1L && di + bytes > am) return false;
        mmu.write(dst, 1, mmu.read(dst, 1));
        long dp = mmu.translate(dst, Mmu.WRITE);
        long dh = mmu.physical().ramPage(dp & ~0xFFFL);
        if (dh < 0) return false;
        long a = dec.getReg(RAX, z);
        long off = dh + (dp & 0xFFF);
        if (z == 1) {
            ram.asSlice(off, bytes).fill((byte) a);
        } else {
            for (long i = 0; i < bytes; i += z) {
                switch (z) {
                    case 2 -> ram.set(ValueLayout.JAVA_SHORT_UNALIGNED, off + i, (short) a);
                    case 4 -> ram.set(ValueLayout.JAVA_INT_UNALIGNED, off + i, (int) a);
                    default -> ram.set(ValueLayout.JAVA_LONG_UNALIGNED, off + i, a);
                }
            }
        }
        dec.setAddressReg(RDI, di + bytes, am);
        dec.setAddressReg(RCX, count - bytes / z, am);
        return true;
    }
}
