package dev.flint.engine.emu.fpu;

import dev.flint.engine.emu.fpu.SoftFloat.Format;

import static dev.flint.engine.emu.fpu.PackedInteger.lane;
import static dev.flint.engine.emu.fpu.PackedInteger.setLane;

/**
 * One decoded MMX/SSE/SSE2 instruction being executed: operand access, the CR0/CR4 gating and the opcode
 * dispatch. Results are computed into temporaries and written back only after every fault check, so a
 * faulting instruction leaves the registers untouched.
 */
final class SseInstruction {
    private static final long CR0_MP = 1L << 1, CR0_EM = 1L << 2, CR0_TS = 1L << 3;
    private static final long CR4_OSFXSR = 1L << 9, CR4_OSXMMEXCPT = 1L << 10;
    static final int UD = 6, NM = 7, GP = 13, MF = 16, XM = 19;

    private final FpuState s;
    private final FpuHost h;
    private final int prefix;
    private final boolean rexW;
    private final int reg;
    private final int rm;
    private final long addr;
    private final int imm;

    SseInstruction(FpuState s, FpuHost h, int prefix, boolean rexW, int reg, int rm, long addr, int imm) {
        this.s = s;
        this.h = h;
        this.prefix = prefix;
        this.rexW = rexW;
        this.reg = reg;
        this.rm = rm;
        this.addr = addr;
        this.imm = imm;
    }

    // ---- gating ----

    /** SSE/SSE2 on XMM registers: CR0.EM or !CR4.OSFXSR → #UD, CR0.TS → #NM. */
    static void checkSse(FpuHost h) {
        if ((h.cr0() & CR0_EM) != 0 || (h.cr4() & CR4_OSFXSR) == 0) {
            throw h.fault(UD, 0);
        }
        if ((h.cr0() & CR0_TS) != 0) {
            throw h.fault(NM, 0);
        }
    }

    /** MMX: CR0.EM → #UD, CR0.TS → #NM, pending x87 exception → #MF; then the x87→MMX transition. */
    static void checkMmx(FpuState s, FpuHost h) {
        if ((h.cr0() & CR0_EM) != 0) {
            throw h.fault(UD, 0);
        }
        if ((h.cr0() & CR0_TS) != 0) {
            throw h.fault(NM, 0);
        }
        if ((s.statusWord & FpuState.FSW_ES) != 0) {
            throw h.fault(MF, 0);
        }
    }

    static void checkFxsr(FpuHost h) {
        if ((h.cr0() & (CR0_TS | CR0_EM)) != 0) {
            throw h.fault(NM, 0);
        }
    }

    static boolean waitTrapsOnTs(FpuHost h) {
        return (h.cr0() & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS);
    }

    private void sse() {
        checkSse(h);
    }

    private void mmx() {
        checkMmx(s, h);
        s.enterMmxMode();
    }

    /** Publishes the lane flags into MXCSR; an unmasked one raises #XM (or #UD without CR4.OSXMMEXCPT). */
    private void commit(SoftFloat env) {
        s.mxcsr |= env.flags;
        if ((env.flags & ~(s.mxcsr >>> 7) & 0x3F) != 0) {
            throw h.fault((h.cr4() & CR4_OSXMMEXCPT) != 0 ? XM : UD, 0);
        }
    }

    // ---- operands ----

    private boolean memory() {
        return rm < 0;
    }

    private long[] xmm(int r) {
        return new long[] {s.xmm[2 * r], s.xmm[2 * r + 1]};
    }

    private void setXmm(int r, long[] v) {
        s.xmm[2 * r] = v[0];
        s.xmm[2 * r + 1] = v[1];
    }

    private long[] read128(boolean aligned) {
        if (aligned && (addr & 15) != 0) {
            throw h.fault(GP, 0);
        }
        return new long[] {h.readMem(addr, 8), h.readMem(addr + 8, 8)};
    }

    private void write128(long[] v, boolean aligned) {
        if (aligned && (addr & 15) != 0) {
            throw h.fault(GP, 0);
        }
        h.writeMem(addr, 8, v[0]);
        h.writeMem(addr + 8, 8, v[1]);
    }

    /** The 128-bit r/m source; legacy SSE requires 16-byte alignment unless the instruction says unaligned. */
    private long[] xmmSource(boolean aligned) {
        return memory() ? read128(aligned) : xmm(rm);
    }

    /** The low {@code bytes} of the r/m source (scalar and 64-bit forms: no alignment requirement). */
    private long[] xmmSourceLow(int bytes) {
        if (memory()) {
            return new long[] {h.readMem(addr, bytes), 0};
        }
        long lo = s.xmm[2 * rm];
        return new long[] {bytes == 8 ? lo : lo & 0xFFFFFFFFL, 0};
    }

    private long mmSource() {
        return memory() ? h.readMem(addr, 8) : s.mmx(rm & 7);
    }

    private long gprOrMemSource(int bytes) {
        if (memory()) {
            return h.readMem(addr, bytes);
        }
        long v = h.readGpr(rm);
        return bytes == 8 ? v : v & ((1L << (bytes * 8)) - 1);
    }

    private Format scalarOrPackedFormat() {
        return prefix == 0x66 || prefix == 0xF2 ? Format.DOUBLE : Format.SINGLE;
    }

    private SoftFloat env() {
        return SoftFloat.fromMxcsr(s.mxcsr);
    }

    // ---- dispatch ----

    boolean execute(int opcode) {
        switch (opcode) {
            case 0x10, 0x11 -> {
                return moveUnalignedOrScalar(opcode == 0x11);
            }
            case 0x12, 0x13, 0x16, 0x17 -> {
                return prefix == 0xF2 || prefix == 0xF3 ? duplicate(opcode) : moveHalf(opcode);
            }
            case 0xD0, 0x7C, 0x7D -> {
                if (prefix != 0x66 && prefix != 0xF2) {
                    return false;
                }
                Format f = prefix == 0x66 ? Format.DOUBLE : Format.SINGLE;
                return floatLanes(false, f, (d, src, format, scalar, env) -> PackedFloat.sse3(opcode, d, src, format, env));
            }
            case 0xF0 -> {
                if (prefix != 0xF2 || !memory()) {
                    return false;
                }
                sse();
                setXmm(reg, read128(false)); // LDDQU
                return true;
            }
            case 0x14, 0x15 -> {
                if (prefix != 0 && prefix != 0x66) {
                    return false;
                }
                boolean pd = prefix == 0x66;
                return integerXmm(opcode == 0x14 ? (pd ? 0x6C : 0x62) : (pd ? 0x6D : 0x6A));
            }
            case 0x28, 0x29 -> {
                if (prefix != 0 && prefix != 0x66) {
                    return false;
                }
                sse();
                return moveFull(opcode == 0x29, true);
            }
            case 0x2B -> {
                if ((prefix != 0 && prefix != 0x66) || !memory()) {
                    return false;
                }
                sse();
                write128(xmm(reg), true);
                return true;
            }
            case 0x2A, 0x2C, 0x2D -> {
                return convertWithIntegers(opcode);
            }
            case 0x2E, 0x2F -> {
                return compareToFlags(opcode == 0x2F);
            }
            case 0x50 -> {
                return moveMask();
            }
            case 0x51, 0x52, 0x53, 0x58, 0x59, 0x5C, 0x5D, 0x5E, 0x5F -> {
                return floatArithmetic(opcode);
            }
            case 0x54, 0x55, 0x56, 0x57 -> {
                if (prefix != 0 && prefix != 0x66) {
                    return false;
                }
                return integerXmm(new int[] {0xDB, 0xDF, 0xEB, 0xEF}[opcode - 0x54]);
            }
            case 0x5A, 0x5B, 0xE6 -> {
                return convertFloats(opcode);
            }
            case 0x6E, 0x7E -> {
                return moveToFromGpr(opcode == 0x7E);
            }
            case 0x6F, 0x7F -> {
                return moveQuadOrDouble(opcode == 0x7F);
            }
            case 0x70 -> {
                return shuffle();
            }
            case 0x71, 0x72, 0x73 -> {
                return shiftImmediate(opcode);
            }
            case 0x77 -> {
                if (prefix != 0) {
                    return false;
                }
                SseUnit.emms(s, h);
                return true;
            }
            case 0xAE -> {
                return group15();
            }
            case 0xC2 -> {
                return compareToMask();
            }
            case 0xC3 -> {
                if (prefix != 0 || !memory()) {
                    return false;
                }
                h.writeMem(addr, rexW ? 8 : 4, h.readGpr(reg));
                return true;
            }
            case 0xC4, 0xC5 -> {
                return insertExtractWord(opcode == 0xC4);
            }
            case 0xC6 -> {
                return shuffleFloats();
            }
            case 0xD6 -> {
                return moveQuadD6();
            }
            case 0xD7 -> {
                return byteMask();
            }
            case 0xE7 -> {
                if (!memory()) {
                    return false;
                }
                if (prefix == 0) {
                    mmx();
                    h.writeMem(addr, 8, s.mmx(reg));
                    return true;
                }
                if (prefix == 0x66) {
                    sse();
                    write128(xmm(reg), true);
                    return true;
                }
                return false;
            }
            case 0xF7 -> {
                return maskedMove();
            }
            default -> {
                if (isPackedInteger(opcode) && !(prefix == 0 && (opcode == 0x6C || opcode == 0x6D))) {
                    return integerOperation(d -> PackedInteger.binary(opcode, d[0], d[1]));
                }
                return false;
            }
        }
    }

    private static boolean isPackedInteger(int opcode) {
        return (opcode >= 0x60 && opcode <= 0x6D) || (opcode >= 0x74 && opcode <= 0x76)
                || (opcode >= 0xD1 && opcode <= 0xD5) || (opcode >= 0xD8 && opcode <= 0xE5)
                || (opcode >= 0xE8 && opcode <= 0xEF) || (opcode >= 0xF1 && opcode <= 0xF6)
                || (opcode >= 0xF8 && opcode <= 0xFE);
    }

    /** A packed-integer operation on XMM registers whatever the prefix (the 0F 14/15/54-57 float aliases). */
    private boolean integerXmm(int opcode) {
        return xmmOperation(d -> PackedInteger.binary(opcode, d[0], d[1]));
    }

    // ---- moves ----

    /** 0F 10/11: MOVUPS, MOVUPD, MOVSS, MOVSD (load and store forms). */
    private boolean moveUnalignedOrScalar(boolean store) {
        sse();
        if (prefix == 0 || prefix == 0x66) {
            return moveFull(store, false);
        }
        int bytes = prefix == 0xF3 ? 4 : 8;
        if (store) {
            if (memory()) {
                h.writeMem(addr, bytes, s.xmm[2 * reg]);
            } else {
                long[] d = xmm(rm);
                setLane(d, 0, bytes * 8, s.xmm[2 * reg]);
                setXmm(rm, d);
            }
        } else if (memory()) {
            setXmm(reg, new long[] {h.readMem(addr, bytes), 0});
        } else {
            long[] d = xmm(reg);
            setLane(d, 0, bytes * 8, s.xmm[2 * rm]);
            setXmm(reg, d);
        }
        return true;
    }

    private boolean moveFull(boolean store, boolean aligned) {
        if (store) {
            if (memory()) {
                write128(xmm(reg), aligned);
            } else {
                setXmm(rm, xmm(reg));
            }
        } else {
            setXmm(reg, xmmSource(aligned));
        }
        return true;
    }

    /** 0F 12/13/16/17: MOVLPS/MOVLPD/MOVHLPS and MOVHPS/MOVHPD/MOVLHPS. */
    private boolean moveHalf(int opcode) {
        if (prefix != 0 && prefix != 0x66) {
            return false;
        }
        boolean high = opcode >= 0x16;
        boolean store = (opcode & 1) != 0;
        if (!memory() && (store || prefix == 0x66)) {
            return false;
        }
        sse();
        int half = high ? 1 : 0;
        if (store) {
            h.writeMem(addr, 8, s.xmm[2 * reg + half]);
        } else {
            // register form: MOVHLPS takes the source's high half, MOVLHPS its low half
            long v = memory() ? h.readMem(addr, 8) : s.xmm[2 * rm + (high ? 0 : 1)];
            s.xmm[2 * reg + half] = v;
        }
        return true;
    }

    /** SSE3 F2 0F 12 MOVDDUP, F3 0F 12 MOVSLDUP, F3 0F 16 MOVSHDUP. */
    private boolean duplicate(int opcode) {
        sse();
        long[] d;
        if (prefix == 0xF2) {
            if (opcode != 0x12) {
                return false;
            }
            long lo = xmmSourceLow(8)[0];
            d = new long[] {lo, lo};
        } else {
            if (opcode != 0x12 && opcode != 0x16) {
                return false;
            }
            long[] src = xmmSource(true);
            int pick = opcode == 0x12 ? 0 : 1;
            d = new long[2];
            for (int i = 0; i < 4; i++) {
                setLane(d, i, 32, lane(src, (i & ~1) + pick, 32));
            }
        }
        setXmm(reg, d);
        return true;
    }

    /** SSSE3, 0F 38 map: no prefix operates on MMX registers, 66 on XMM registers. */
    boolean executeMap2(int opcode) {
        boolean known = (opcode >= 0x00 && opcode <= 0x0B) || (opcode >= 0x1C && opcode <= 0x1E);
        return known && integerOperation(d -> PackedInteger.ssse3(opcode, d[0], d[1]));
    }

    /** SSSE3, 0F 3A map: only PALIGNR (0F). */
    boolean executeMap3(int opcode) {
        return opcode == 0x0F && integerOperation(d -> PackedInteger.alignRight(d[0], d[1], imm));
    }

    /** Runs a two-operand packed-integer operation on mm (no prefix) or xmm (66) registers. */
    private boolean integerOperation(java.util.function.Consumer<long[][]> op) {
        if (prefix == 0) {
            mmx();
            long[] d = {s.mmx(reg)};
            op.accept(new long[][] {d, {mmSource()}});
            s.setMmx(reg, d[0]);
            return true;
        }
        return prefix == 0x66 && xmmOperation(op);
    }

    private boolean xmmOperation(java.util.function.Consumer<long[][]> op) {
        sse();
        long[] d = xmm(reg);
        op.accept(new long[][] {d, xmmSource(true)});
        setXmm(reg, d);
        return true;
    }

    /** 0F 6F/7F: MOVQ mm (no prefix), MOVDQA (66), MOVDQU (F3). */
    private boolean moveQuadOrDouble(boolean store) {
        if (prefix == 0) {
            mmx();
            if (store) {
                if (memory()) {
                    h.writeMem(addr, 8, s.mmx(reg));
                } else {
                    s.setMmx(rm, s.mmx(reg));
                }
            } else {
                s.setMmx(reg, mmSource());
            }
            return true;
        }
        if (prefix != 0x66 && prefix != 0xF3) {
            return false;
        }
        sse();
        return moveFull(store, prefix == 0x66);
    }

    /** 0F 6E/7E: MOVD/MOVQ between GPR/memory and mm/xmm, plus F3 0F 7E MOVQ xmm, xmm/m64. */
    private boolean moveToFromGpr(boolean store) {
        int bytes = rexW ? 8 : 4;
        if (store && prefix == 0xF3) {
            sse();
            setXmm(reg, xmmSourceLow(8));
            return true;
        }
        if (prefix != 0 && prefix != 0x66) {
            return false;
        }
        boolean toMmx = prefix == 0;
        if (toMmx) {
            mmx();
        } else {
            sse();
        }
        if (store) {
            long v = toMmx ? s.mmx(reg) : s.xmm[2 * reg];
            if (memory()) {
                h.writeMem(addr, bytes, v);
            } else {
                h.writeGpr(rm, v, bytes);
            }
        } else {
            long v = gprOrMemSource(bytes);
            if (toMmx) {
                s.setMmx(reg, v);
            } else {
                setXmm(reg, new long[] {v, 0});
            }
        }
        return true;
    }

    /** 0F D6: 66 MOVQ xmm/m64, xmm; F3 MOVQ2DQ xmm, mm; F2 MOVDQ2Q mm, xmm. */
    private boolean moveQuadD6() {
        switch (prefix) {
            case 0x66 -> {
                sse();
                if (memory()) {
                    h.writeMem(addr, 8, s.xmm[2 * reg]);
                } else {
                    setXmm(rm, new long[] {s.xmm[2 * reg], 0});
                }
            }
            case 0xF3 -> {
                if (memory()) {
                    return false;
                }
                sse();
                mmx();
                setXmm(reg, new long[] {s.mmx(rm), 0});
            }
            case 0xF2 -> {
                if (memory()) {
                    return false;
                }
                sse();
                mmx();
                s.setMmx(reg, s.xmm[2 * rm]);
            }
            default -> {
                return false;
            }
        }
        return true;
    }

    /** 0F F7: MASKMOVQ / MASKMOVDQU, byte stores selected by the mask register's top bits. */
    private boolean maskedMove() {
        if (memory() || (prefix != 0 && prefix != 0x66)) {
            return false;
        }
        long[] data;
        long[] mask;
        if (prefix == 0) {
            mmx();
            data = new long[] {s.mmx(reg)};
            mask = new long[] {s.mmx(rm)};
        } else {
            sse();
            data = xmm(reg);
            mask = xmm(rm);
        }
        for (int i = 0, n = data.length * 8; i < n; i++) {
            if ((lane(mask, i, 8) & 0x80) != 0) {
                h.writeMem(addr + i, 1, lane(data, i, 8));
            }
        }
        return true;
    }

    /** 0F 50: MOVMSKPS / MOVMSKPD. */
    private boolean moveMask() {
        if (memory() || (prefix != 0 && prefix != 0x66)) {
            return false;
        }
        sse();
        int width = prefix == 0x66 ? 64 : 32;
        long[] v = xmm(rm);
        int mask = 0;
        for (int i = 0, n = 128 / width; i < n; i++) {
            mask |= (int) (lane(v, i, width) >>> (width - 1)) << i;
        }
        h.writeGpr(reg, mask, 4);
        return true;
    }

    /** 0F D7: PMOVMSKB r32, mm/xmm. */
    private boolean byteMask() {
        if (memory() || (prefix != 0 && prefix != 0x66)) {
            return false;
        }
        long[] v;
        if (prefix == 0) {
            mmx();
            v = new long[] {s.mmx(rm)};
        } else {
            sse();
            v = xmm(rm);
        }
        h.writeGpr(reg, PackedInteger.byteMask(v), 4);
        return true;
    }

    /** 0F C4 PINSRW / 0F C5 PEXTRW on mm (no prefix) or xmm (66). */
    private boolean insertExtractWord(boolean insert) {
        if (prefix != 0 && prefix != 0x66) {
            return false;
        }
        if (!insert && memory()) {
            return false;
        }
        boolean onMmx = prefix == 0;
        if (onMmx) {
            mmx();
        } else {
            sse();
        }
        int index = imm & (onMmx ? 3 : 7);
        if (insert) {
            long word = gprOrMemSource(2);
            long[] d = onMmx ? new long[] {s.mmx(reg)} : xmm(reg);
            setLane(d, index, 16, word);
            if (onMmx) {
                s.setMmx(reg, d[0]);
            } else {
                setXmm(reg, d);
            }
        } else {
            long[] v = onMmx ? new long[] {s.mmx(rm)} : xmm(rm);
            h.writeGpr(reg, lane(v, index, 16), 4);
        }
        return true;
    }

    // ---- shuffles and shifts ----

    /** 0F 70: PSHUFW (mm), PSHUFD (66), PSHUFLW (F2), PSHUFHW (F3). */
    private boolean shuffle() {
        if (prefix == 0) {
            mmx();
            long[] src = {mmSource()};
            long[] d = {0};
            PackedInteger.shuffle4(d, src, 16, 0, imm);
            s.setMmx(reg, d[0]);
            return true;
        }
        sse();
        long[] src = xmmSource(true);
        long[] d = src.clone();
        switch (prefix) {
            case 0x66 -> PackedInteger.shuffle4(d, src, 32, 0, imm);
            case 0xF2 -> PackedInteger.shuffle4(d, src, 16, 0, imm);
            case 0xF3 -> PackedInteger.shuffle4(d, src, 16, 4, imm);
            default -> {
                return false;
            }
        }
        setXmm(reg, d);
        return true;
    }

    /** 0F C6: SHUFPS / SHUFPD. */
    private boolean shuffleFloats() {
        if (prefix != 0 && prefix != 0x66) {
            return false;
        }
        sse();
        long[] src = xmmSource(true);
        long[] a = xmm(reg);
        long[] d = new long[2];
        if (prefix == 0) {
            setLane(d, 0, 32, lane(a, imm & 3, 32));
            setLane(d, 1, 32, lane(a, (imm >>> 2) & 3, 32));
            setLane(d, 2, 32, lane(src, (imm >>> 4) & 3, 32));
            setLane(d, 3, 32, lane(src, (imm >>> 6) & 3, 32));
        } else {
            d[0] = a[imm & 1];
            d[1] = src[(imm >>> 1) & 1];
        }
        setXmm(reg, d);
        return true;
    }

    /** 0F 71/72/73 groups: shifts of the r/m register by imm8. */
    private boolean shiftImmediate(int opcode) {
        if (!memory() && (prefix == 0 || prefix == 0x66)) {
            int bits = opcode == 0x71 ? 16 : opcode == 0x72 ? 32 : 64;
            int op = reg & 7;
            boolean byteShift = opcode == 0x73 && (op == 3 || op == 7);
            PackedInteger.Shift kind = switch (op) {
                case 2 -> PackedInteger.Shift.RIGHT_LOGICAL;
                case 4 -> opcode == 0x73 ? null : PackedInteger.Shift.RIGHT_ARITHMETIC;
                case 6 -> PackedInteger.Shift.LEFT;
                default -> null;
            };
            if (byteShift && prefix == 0x66) {
                sse();
                long[] d = xmm(rm);
                PackedInteger.shiftBytes(d, imm, op == 7);
                setXmm(rm, d);
                return true;
            }
            if (kind != null) {
                if (prefix == 0) {
                    mmx();
                    long[] d = {s.mmx(rm)};
                    PackedInteger.shift(d, bits, imm, kind);
                    s.setMmx(rm, d[0]);
                } else {
                    sse();
                    long[] d = xmm(rm);
                    PackedInteger.shift(d, bits, imm, kind);
                    setXmm(rm, d);
                }
                return true;
            }
        }
        return false;
    }

    // ---- floating point ----

    private interface FloatLanes {
        void apply(long[] d, long[] src, Format f, boolean scalar, SoftFloat env);
    }

    /** Scalar (F3/F2) or packed (none/66) float operation on xmm(reg) and r/m, through MXCSR. */
    private boolean floatLanes(FloatLanes op) {
        return floatLanes(prefix == 0xF3 || prefix == 0xF2, scalarOrPackedFormat(), op);
    }

    private boolean floatLanes(boolean scalar, Format f, FloatLanes op) {
        sse();
        long[] src = scalar ? xmmSourceLow(f.width / 8) : xmmSource(true);
        long[] d = xmm(reg);
        SoftFloat env = env();
        op.apply(d, src, f, scalar, env);
        commit(env);
        setXmm(reg, d);
        return true;
    }

    private boolean floatArithmetic(int opcode) {
        if ((opcode == 0x52 || opcode == 0x53) && prefix != 0 && prefix != 0xF3) {
            return false;
        }
        return floatLanes((d, src, f, scalar, env) -> PackedFloat.arithmetic(opcode, d, src, f, scalar, env));
    }

    /** 0F C2: CMPPS/CMPPD/CMPSS/CMPSD. */
    private boolean compareToMask() {
        return floatLanes((d, src, f, scalar, env) -> PackedFloat.compare(d, src, f, scalar, imm, env));
    }

    /** 0F 2E/2F: UCOMISS/COMISS/UCOMISD/COMISD into ZF, PF, CF. */
    private boolean compareToFlags(boolean signaling) {
        if (prefix != 0 && prefix != 0x66) {
            return false;
        }
        sse();
        Format f = prefix == 0x66 ? Format.DOUBLE : Format.SINGLE;
        long b = xmmSourceLow(f.width / 8)[0];
        long a = lane(xmm(reg), 0, f.width);
        SoftFloat env = env();
        int c = env.compare(a, b, f, signaling);
        commit(env);
        boolean unordered = c == SoftFloat.UNORDERED;
        h.setCompareFlags(unordered || c == SoftFloat.EQUAL, unordered, unordered || c == SoftFloat.LESS);
        return true;
    }

    /** 0F 5A, 5B, E6: conversions between float formats and packed int32. */
    private boolean convertFloats(int opcode) {
        int key = opcode << 8 | prefix;
        long[] d;
        SoftFloat env = env();
        switch (key) {
            case 0x5A00 -> { // CVTPS2PD
                sse();
                d = new long[2];
                PackedFloat.convert(d, xmmSourceLow(8), Format.SINGLE, Format.DOUBLE, 2, env);
            }
            case 0x5A66 -> { // CVTPD2PS
                sse();
                d = new long[2];
                PackedFloat.convert(d, xmmSource(true), Format.DOUBLE, Format.SINGLE, 2, env);
            }
            case 0x5AF3 -> { // CVTSS2SD
                sse();
                d = xmm(reg);
                PackedFloat.convert(d, xmmSourceLow(4), Format.SINGLE, Format.DOUBLE, 1, env);
            }
            case 0x5AF2 -> { // CVTSD2SS
                sse();
                d = xmm(reg);
                PackedFloat.convert(d, xmmSourceLow(8), Format.DOUBLE, Format.SINGLE, 1, env);
            }
            case 0x5B00 -> { // CVTDQ2PS
                sse();
                d = new long[2];
                PackedFloat.fromInt32(d, xmmSource(true), Format.SINGLE, 4, env);
            }
            case 0x5B66, 0x5BF3 -> { // CVTPS2DQ, CVTTPS2DQ
                sse();
                d = new long[2];
                PackedFloat.toInt32(d, xmmSource(true), Format.SINGLE, 4, prefix == 0xF3, env);
            }
            case 0xE666, 0xE6F2 -> { // CVTTPD2DQ, CVTPD2DQ
                sse();
                d = new long[2];
                PackedFloat.toInt32(d, xmmSource(true), Format.DOUBLE, 2, prefix == 0x66, env);
            }
            case 0xE6F3 -> { // CVTDQ2PD
                sse();
                d = new long[2];
                PackedFloat.fromInt32(d, xmmSourceLow(8), Format.DOUBLE, 2, env);
            }
            default -> {
                return false;
            }
        }
        commit(env);
        setXmm(reg, d);
        return true;
    }

    /** 0F 2A/2C/2D: conversions involving GPRs (CVTSI2SS...) or MMX registers (CVTPI2PS...). */
    private boolean convertWithIntegers(int opcode) {
        SoftFloat env = env();
        boolean truncate = opcode == 0x2C;
        switch (prefix) {
            case 0xF3, 0xF2 -> {
                sse();
                Format f = prefix == 0xF2 ? Format.DOUBLE : Format.SINGLE;
                int bytes = rexW ? 8 : 4;
                if (opcode == 0x2A) { // CVTSI2SS/SD xmm, r/m32/64
                    long v = gprOrMemSource(bytes);
                    long r = env.fromInteger(rexW ? v : (int) v, f);
                    commit(env);
                    long[] d = xmm(reg);
                    setLane(d, 0, f.width, r);
                    setXmm(reg, d);
                } else { // CVT(T)SS2SI/SD2SI r32/64, xmm/m
                    long r = env.toInteger(xmmSourceLow(f.width / 8)[0], f, bytes * 8, truncate);
                    commit(env);
                    h.writeGpr(reg, r, bytes);
                }
            }
            case 0, 0x66 -> {
                Format f = prefix == 0x66 ? Format.DOUBLE : Format.SINGLE;
                if (opcode == 0x2A) { // CVTPI2PS / CVTPI2PD xmm, mm/m64
                    sse();
                    long[] src = {memory() ? h.readMem(addr, 8) : mmxOperandForConversion(rm)};
                    long[] d = f == Format.DOUBLE ? new long[2] : xmm(reg);
                    PackedFloat.fromInt32(d, src, f, 2, env);
                    commit(env);
                    setXmm(reg, d);
                } else { // CVT(T)PS2PI / CVT(T)PD2PI mm, xmm/m
                    sse();
                    long[] src = f == Format.DOUBLE ? xmmSource(true) : xmmSourceLow(8);
                    mmx();
                    long[] d = new long[1];
                    PackedFloat.toInt32(d, src, f, 2, truncate, env);
                    commit(env);
                    s.setMmx(reg, d[0]);
                }
            }
            default -> {
                return false;
            }
        }
        return true;
    }

    private long mmxOperandForConversion(int r) {
        mmx();
        return s.mmx(r);
    }

    // ---- 0F AE ----

    private boolean group15() {
        if (!memory() || prefix != 0) {
            return false; // register forms are the fences, handled by the core
        }
        switch (reg & 7) {
            case 0 -> SseUnit.fxsave(s, h, addr, rexW);
            case 1 -> SseUnit.fxrstor(s, h, addr, rexW);
            case 2 -> SseUnit.loadMxcsr(s, h, addr);
            case 3 -> SseUnit.storeMxcsr(s, h, addr);
            default -> {
                return false;
            }
        }
        return true;
    }
}
