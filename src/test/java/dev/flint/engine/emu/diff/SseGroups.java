package dev.flint.engine.emu.diff;

import dev.flint.engine.emu.diff.Operand.Mem;
import dev.flint.engine.emu.diff.Operand.Reg;
import java.util.List;
import java.util.Random;

/**
 * SSE/SSE2 sequences (the x86-64 baseline every 64-bit CPUID advertises): moves, packed integer,
 * packed/scalar floating point with NaN/denormal/infinity inputs, conversions, compares, shuffles.
 * All SSE exceptions stay masked, so nothing traps; the sticky exception flags in MXCSR are compared.
 * RCPPS/RSQRTPS are left out on purpose: their approximations differ between CPU vendors.
 */
final class SseGroups {
    private enum Form {
        /** xmm, xmm/mem (load direction) */
        XX,
        /** xmm/mem, xmm (store direction) */
        STORE,
        /** store to memory only (MOVLPS/MOVHPS m64, xmm) */
        STORE_MEM,
        /** xmm, mem only (MOVLPS/MOVHPS xmm, m64) */
        LOAD_MEM,
        /** xmm, xmm only */
        REG_ONLY,
        /** xmm, r/m32 or r/m64 (MOVD/MOVQ, CVTSI2Sx) */
        FROM_GPR,
        /** r32/r64, xmm/mem (CVTSx2SI) */
        TO_GPR,
        /** r32, xmm only (MOVMSKPS/PD, PMOVMSKB) */
        TO_GPR_REG,
        /** r/m32 or r/m64, xmm (MOVD/MOVQ store) */
        STORE_GPR,
        /** xmm, imm8 with an opcode extension (PSRLW xmm, imm ...) */
        SHIFT_IMM,
        /** xmm, r32/m16, imm8 */
        PINSRW,
        /** r32, xmm, imm8 */
        PEXTRW
    }

    /**
     * @param memSize memory operand size in bytes; {@code aligned}: the legacy-SSE 16-byte alignment rule applies
     * @param imm     -1 for none, else the immediate is random in [0, imm]
     * @param ext     opcode extension for SHIFT_IMM
     */
    private record Op(String name, int prefix, int opcode, Form form, int memSize, boolean aligned, int imm, int ext,
                      boolean setsFlags) {
        static Op of(String name, int prefix, int opcode, Form form, int memSize, boolean aligned) {
            return new Op(name, prefix, opcode, form, memSize, aligned, -1, 0, false);
        }

        Op imm(int max) {
            return new Op(name, prefix, opcode, form, memSize, aligned, max, ext, setsFlags);
        }

        Op comparesIntoFlags() {
            return new Op(name, prefix, opcode, form, memSize, aligned, imm, ext, true);
        }
    }

    private static final List<Op> MOVES = List.of(
            Op.of("movaps", 0, 0x28, Form.XX, 16, true), Op.of("movaps", 0, 0x29, Form.STORE, 16, true),
            Op.of("movups", 0, 0x10, Form.XX, 16, false), Op.of("movups", 0, 0x11, Form.STORE, 16, false),
            Op.of("movapd", 0x66, 0x28, Form.XX, 16, true), Op.of("movupd", 0x66, 0x11, Form.STORE, 16, false),
            Op.of("movdqa", 0x66, 0x6F, Form.XX, 16, true), Op.of("movdqa", 0x66, 0x7F, Form.STORE, 16, true),
            Op.of("movdqu", 0xF3, 0x6F, Form.XX, 16, false), Op.of("movdqu", 0xF3, 0x7F, Form.STORE, 16, false),
            Op.of("movss", 0xF3, 0x10, Form.XX, 4, false), Op.of("movss", 0xF3, 0x11, Form.STORE, 4, false),
            Op.of("movsd", 0xF2, 0x10, Form.XX, 8, false), Op.of("movsd", 0xF2, 0x11, Form.STORE, 8, false),
            Op.of("movq", 0xF3, 0x7E, Form.XX, 8, false), Op.of("movq", 0x66, 0xD6, Form.STORE, 8, false),
            Op.of("movd/q", 0x66, 0x6E, Form.FROM_GPR, 0, false), Op.of("movd/q", 0x66, 0x7E, Form.STORE_GPR, 0, false),
            Op.of("movhlps", 0, 0x12, Form.REG_ONLY, 0, false), Op.of("movlhps", 0, 0x16, Form.REG_ONLY, 0, false),
            Op.of("movlps", 0, 0x12, Form.LOAD_MEM, 8, false), Op.of("movhps", 0, 0x16, Form.LOAD_MEM, 8, false),
            Op.of("movlpd", 0x66, 0x12, Form.LOAD_MEM, 8, false), Op.of("movhpd", 0x66, 0x16, Form.LOAD_MEM, 8, false),
            Op.of("movlps", 0, 0x13, Form.STORE_MEM, 8, false), Op.of("movhps", 0, 0x17, Form.STORE_MEM, 8, false),
            Op.of("movmskps", 0, 0x50, Form.TO_GPR_REG, 0, false), Op.of("movmskpd", 0x66, 0x50, Form.TO_GPR_REG, 0, false),
            Op.of("pmovmskb", 0x66, 0xD7, Form.TO_GPR_REG, 0, false));

    private static final List<Op> PACKED_INT = packedInt();

    private static List<Op> packedInt() {
        String[] names = {"paddb", "paddw", "paddd", "paddq", "psubb", "psubw", "psubd", "psubq", "paddsb", "paddsw",
            "paddusb", "paddusw", "psubsb", "psubsw", "psubusb", "psubusw", "pand", "pandn", "por", "pxor", "pcmpeqb",
            "pcmpeqw", "pcmpeqd", "pcmpgtb", "pcmpgtw", "pcmpgtd", "pmullw", "pmulhw", "pmulhuw", "pmuludq", "pmaddwd",
            "psadbw", "pavgb", "pavgw", "pminub", "pmaxub", "pminsw", "pmaxsw", "punpcklbw", "punpcklwd", "punpckldq",
            "punpcklqdq", "punpckhbw", "punpckhwd", "punpckhdq", "punpckhqdq", "packsswb", "packuswb", "packssdw",
            "psrlw", "psrld", "psrlq", "psraw", "psrad", "psllw", "pslld", "psllq"};
        int[] ops = {0xFC, 0xFD, 0xFE, 0xD4, 0xF8, 0xF9, 0xFA, 0xFB, 0xEC, 0xED, 0xDC, 0xDD, 0xE8, 0xE9, 0xD8, 0xD9,
            0xDB, 0xDF, 0xEB, 0xEF, 0x74, 0x75, 0x76, 0x64, 0x65, 0x66, 0xD5, 0xE5, 0xE4, 0xF4, 0xF5, 0xF6, 0xE0, 0xE3,
            0xDA, 0xDE, 0xEA, 0xEE, 0x60, 0x61, 0x62, 0x6C, 0x68, 0x69, 0x6A, 0x6D, 0x63, 0x67, 0x6B,
            0xD1, 0xD2, 0xD3, 0xE1, 0xE2, 0xF1, 0xF2, 0xF3};
        java.util.ArrayList<Op> list = new java.util.ArrayList<>();
        for (int i = 0; i < names.length; i++) {
            list.add(Op.of(names[i], 0x66, ops[i], Form.XX, 16, true));
        }
        String[] shiftNames = {"psrlw", "psraw", "psllw", "psrld", "psrad", "pslld", "psrlq", "psrldq", "psllq", "pslldq"};
        int[][] shifts = {{0x71, 2}, {0x71, 4}, {0x71, 6}, {0x72, 2}, {0x72, 4}, {0x72, 6}, {0x73, 2}, {0x73, 3}, {0x73, 6}, {0x73, 7}};
        for (int i = 0; i < shifts.length; i++) {
            list.add(new Op(shiftNames[i], 0x66, shifts[i][0], Form.SHIFT_IMM, 0, false, 255, shifts[i][1], false));
        }
        list.add(Op.of("pshufd", 0x66, 0x70, Form.XX, 16, true).imm(255));
        list.add(Op.of("pshuflw", 0xF2, 0x70, Form.XX, 16, true).imm(255));
        list.add(Op.of("pshufhw", 0xF3, 0x70, Form.XX, 16, true).imm(255));
        list.add(Op.of("pinsrw", 0x66, 0xC4, Form.PINSRW, 2, false).imm(255));
        list.add(Op.of("pextrw", 0x66, 0xC5, Form.PEXTRW, 0, false).imm(255));
        return List.copyOf(list);
    }

    private static final List<Op> FLOAT = floatOps();

    private static List<Op> floatOps() {
        java.util.ArrayList<Op> list = new java.util.ArrayList<>();
        String[] names = {"add", "mul", "sub", "min", "div", "max", "sqrt"};
        int[] ops = {0x58, 0x59, 0x5C, 0x5D, 0x5E, 0x5F, 0x51};
        for (int i = 0; i < names.length; i++) {
            list.add(Op.of(names[i] + "ps", 0, ops[i], Form.XX, 16, true));
            list.add(Op.of(names[i] + "pd", 0x66, ops[i], Form.XX, 16, true));
            list.add(Op.of(names[i] + "ss", 0xF3, ops[i], Form.XX, 4, false));
            list.add(Op.of(names[i] + "sd", 0xF2, ops[i], Form.XX, 8, false));
        }
        String[] logic = {"and", "andn", "or", "xor"};
        for (int i = 0; i < 4; i++) {
            list.add(Op.of(logic[i] + "ps", 0, 0x54 + i, Form.XX, 16, true));
            list.add(Op.of(logic[i] + "pd", 0x66, 0x54 + i, Form.XX, 16, true));
        }
        list.add(Op.of("cmpps", 0, 0xC2, Form.XX, 16, true).imm(7));
        list.add(Op.of("cmppd", 0x66, 0xC2, Form.XX, 16, true).imm(7));
        list.add(Op.of("cmpss", 0xF3, 0xC2, Form.XX, 4, false).imm(7));
        list.add(Op.of("cmpsd", 0xF2, 0xC2, Form.XX, 8, false).imm(7));
        list.add(Op.of("comiss", 0, 0x2F, Form.XX, 4, false).comparesIntoFlags());
        list.add(Op.of("ucomiss", 0, 0x2E, Form.XX, 4, false).comparesIntoFlags());
        list.add(Op.of("comisd", 0x66, 0x2F, Form.XX, 8, false).comparesIntoFlags());
        list.add(Op.of("ucomisd", 0x66, 0x2E, Form.XX, 8, false).comparesIntoFlags());
        list.add(Op.of("shufps", 0, 0xC6, Form.XX, 16, true).imm(255));
        list.add(Op.of("shufpd", 0x66, 0xC6, Form.XX, 16, true).imm(255));
        list.add(Op.of("unpcklps", 0, 0x14, Form.XX, 16, true));
        list.add(Op.of("unpckhps", 0, 0x15, Form.XX, 16, true));
        list.add(Op.of("unpcklpd", 0x66, 0x14, Form.XX, 16, true));
        list.add(Op.of("unpckhpd", 0x66, 0x15, Form.XX, 16, true));
        return List.copyOf(list);
    }

    private static final List<Op> CONVERT = List.of(
            Op.of("cvtsi2ss", 0xF3, 0x2A, Form.FROM_GPR, 0, false), Op.of("cvtsi2sd", 0xF2, 0x2A, Form.FROM_GPR, 0, false),
            Op.of("cvtss2si", 0xF3, 0x2D, Form.TO_GPR, 4, false), Op.of("cvttss2si", 0xF3, 0x2C, Form.TO_GPR, 4, false),
            Op.of("cvtsd2si", 0xF2, 0x2D, Form.TO_GPR, 8, false), Op.of("cvttsd2si", 0xF2, 0x2C, Form.TO_GPR, 8, false),
            Op.of("cvtss2sd", 0xF3, 0x5A, Form.XX, 4, false), Op.of("cvtsd2ss", 0xF2, 0x5A, Form.XX, 8, false),
            Op.of("cvtps2pd", 0, 0x5A, Form.XX, 8, false), Op.of("cvtpd2ps", 0x66, 0x5A, Form.XX, 16, true),
            Op.of("cvtdq2ps", 0, 0x5B, Form.XX, 16, true), Op.of("cvtps2dq", 0x66, 0x5B, Form.XX, 16, true),
            Op.of("cvttps2dq", 0xF3, 0x5B, Form.XX, 16, true), Op.of("cvtdq2pd", 0xF3, 0xE6, Form.XX, 8, false),
            Op.of("cvtpd2dq", 0xF2, 0xE6, Form.XX, 16, true), Op.of("cvttpd2dq", 0x66, 0xE6, Form.XX, 16, true));

    private static final int[] FLOAT_EDGES = {0, 0x8000_0000, 0x7F80_0000, 0xFF80_0000, 0x7FC0_0000, 0xFFC0_0001,
        0x7F80_0001, 0x7FBF_FFFF, 0x0000_0001, 0x007F_FFFF, 0x8040_0000, 0x0080_0000, 0x7F7F_FFFF, 0x3F80_0000,
        0xBFC0_0000, 0x4F00_0000, 0xCF00_0000, 0x5F00_0000, 0xDF00_0000, 0x3F00_0000, 0x4020_0000, 0xBF00_0000,
        0x4EFF_FFFF, 0x0000_8000};
    private static final long[] DOUBLE_EDGES = {0, 0x8000_0000_0000_0000L, 0x7FF0_0000_0000_0000L,
        0xFFF0_0000_0000_0000L, 0x7FF8_0000_0000_0000L, 0xFFF8_0000_0000_0001L, 0x7FF0_0000_0000_0001L,
        0x7FF7_FFFF_FFFF_FFFFL, 1, 0x000F_FFFF_FFFF_FFFFL, 0x8008_0000_0000_0000L, 0x0010_0000_0000_0000L,
        0x7FEF_FFFF_FFFF_FFFFL, 0x3FF0_0000_0000_0000L, 0xBFF8_0000_0000_0000L, 0x41E0_0000_0000_0000L,
        0xC1E0_0000_0000_0000L, 0x43E0_0000_0000_0000L, 0xC3E0_0000_0000_0000L, 0x3FE0_0000_0000_0000L,
        0x4004_0000_0000_0000L, 0x400C_0000_0000_0000L, 0x47F0_0000_0000_0000L, 0x3690_0000_0000_0000L,
        0x36A0_0000_0000_0000L, 0x41DF_FFFF_FFC0_0000L, 0x3810_0000_0000_0000L};

    private SseGroups() {}

    /** Fills the XMM registers, MXCSR and parts of the data page with floating-point edge cases. */
    static void seedValues(SequenceBuilder b) {
        Random rnd = b.rnd;
        for (int i = 0; i < 16; i++) {
            long[] v = vector(rnd);
            b.initial.xmm[2 * i] = v[0];
            b.initial.xmm[2 * i + 1] = v[1];
        }
        for (int chunk = 0; chunk < Layout.DATA_SIZE / 16; chunk++) {
            if (rnd.nextBoolean()) {
                long[] v = vector(rnd);
                for (int k = 0; k < 8; k++) {
                    b.initial.data[chunk * 16 + k] = (byte) (v[0] >>> (8 * k));
                    b.initial.data[chunk * 16 + 8 + k] = (byte) (v[1] >>> (8 * k));
                }
            }
        }
        int mxcsr = 0x1F80;
        if (rnd.nextBoolean()) {
            mxcsr |= rnd.nextInt(4) << 13;                         // rounding control
        }
        if (rnd.nextInt(4) == 0) {
            mxcsr |= 0x8000;                                       // flush to zero
        }
        if (rnd.nextInt(4) == 0) {
            mxcsr |= 0x0040;                                       // denormals are zero
        }
        if (rnd.nextInt(4) == 0) {
            mxcsr |= rnd.nextInt(64);                              // sticky exception flags already set
        }
        b.initial.mxcsr = mxcsr;
        b.compareMxcsr();
    }

    private static long[] vector(Random rnd) {
        long[] v = new long[2];
        switch (rnd.nextInt(4)) {
            case 0 -> {
                v[0] = rnd.nextLong();
                v[1] = rnd.nextLong();
            }
            case 1, 2 -> {
                for (int lane = 0; lane < 4; lane++) {
                    long f = rnd.nextInt(3) == 0 ? Float.floatToRawIntBits((float) (rnd.nextGaussian() * 1e3))
                            : FLOAT_EDGES[rnd.nextInt(FLOAT_EDGES.length)];
                    v[lane >> 1] |= (f & 0xFFFF_FFFFL) << (32 * (lane & 1));
                }
            }
            default -> {
                for (int lane = 0; lane < 2; lane++) {
                    v[lane] = rnd.nextInt(3) == 0 ? Double.doubleToRawLongBits(rnd.nextGaussian() * 1e6)
                            : DOUBLE_EDGES[rnd.nextInt(DOUBLE_EDGES.length)];
                }
            }
        }
        return v;
    }

    static void moves(SequenceBuilder b) {
        emit(b, MOVES.get(b.rnd.nextInt(MOVES.size())));
    }

    static void packedInteger(SequenceBuilder b) {
        emit(b, PACKED_INT.get(b.rnd.nextInt(PACKED_INT.size())));
    }

    static void floatingPoint(SequenceBuilder b) {
        if (b.rnd.nextInt(8) == 0) {
            mxcsrAccess(b);
            return;
        }
        emit(b, FLOAT.get(b.rnd.nextInt(FLOAT.size())));
    }

    /**
     * STMXCSR, or LDMXCSR of a value with every exception still masked (an unmasked one would trap on
     * the host), a random rounding mode, FTZ/DAZ and sticky flags.
     */
    private static void mxcsrAccess(SequenceBuilder b) {
        Random rnd = b.rnd;
        Mem m = b.mem(4, false);
        if (rnd.nextBoolean()) {
            b.insn(Encoder.modrm(b.pc(), new int[0], false, new int[] {0x0F, 0xAE}, 3, null, m, 0, 0), "stmxcsr " + m, 0, 0);
            return;
        }
        int value = 0x1F80 | rnd.nextInt(4) << 13 | (rnd.nextBoolean() ? 0x8000 : 0) | (rnd.nextBoolean() ? 0x40 : 0)
                | rnd.nextInt(64);
        b.setup(Encoder.modrm(b.pc(), new int[0], false, new int[] {0xC7}, 0, null, m, value, 4),
                String.format("mov %s, 0x%x", m, value));
        b.insn(Encoder.modrm(b.pc(), new int[0], false, new int[] {0x0F, 0xAE}, 2, null, m, 0, 0), "ldmxcsr " + m, 0, 0);
    }

    static void conversions(SequenceBuilder b) {
        emit(b, CONVERT.get(b.rnd.nextInt(CONVERT.size())));
    }

    private static Operand vectorOrMem(SequenceBuilder b, Op op, boolean mmx) {
        if (b.rnd.nextInt(3) != 0) {
            return vector(b, mmx);
        }
        return mmx ? b.mem(8, false) : mem(b, op.memSize(), op.aligned());
    }

    private static Reg vector(SequenceBuilder b, boolean mmx) {
        return mmx ? Reg.mm(b.rnd.nextInt(8)) : Reg.xmm(b.rnd.nextInt(16));
    }

    /**
     * The MMX forms of the packed-integer instructions (no prefix, 64-bit registers aliasing the x87
     * stack). The setup loads MM0-7 from the data page and stores them back at the end, then EMMS,
     * so the comparison sees them through memory.
     */
    static void mmx(SequenceBuilder b) {
        emit(b, MMX.get(b.rnd.nextInt(MMX.size())), true);
    }

    /** MMX register offsets in the data page where the final MM0-7 are stored. */
    static final int MMX_SPILL = Layout.DATA_SIZE - 64;

    static void loadMmx(SequenceBuilder b) {
        for (int i = 0; i < 8; i++) {
            Mem m = b.mem(8, false);
            b.setup(Encoder.modrm(b.pc(), new int[0], false, new int[] {0x0F, 0x6F}, i, Reg.mm(i), m, 0, 0), "movq mm" + i + ", " + m);
        }
    }

    static void storeMmx(SequenceBuilder b) {
        for (int i = 0; i < 8; i++) {
            Mem m = new Mem(-1, -1, 1, b.layout.data() + MMX_SPILL + 8 * i, 8, true);
            b.setup(Encoder.modrm(b.pc(), new int[0], false, new int[] {0x0F, 0x7F}, i, Reg.mm(i), m, 0, 0), "movq " + m + ", mm" + i);
        }
        b.setup(new byte[] {0x0F, 0x77}, "emms");
    }

    private static final List<Op> MMX = PACKED_INT.stream()
            .filter(op -> op.prefix() == 0x66 && op.opcode() != 0x6C && op.opcode() != 0x6D && op.opcode() != 0x70
                    && !(op.form() == Form.SHIFT_IMM && (op.ext() == 3 || op.ext() == 7)))
            .map(op -> new Op(op.name(), 0, op.opcode(), op.form(), 8, false, op.imm(), op.ext(), false))
            .collect(java.util.stream.Collectors.collectingAndThen(java.util.stream.Collectors.toList(), list -> {
                list.add(Op.of("pshufw", 0, 0x70, Form.XX, 8, false).imm(255));
                list.add(Op.of("movq", 0, 0x6F, Form.XX, 8, false));
                list.add(Op.of("movq", 0, 0x7F, Form.STORE, 8, false));
                list.add(Op.of("movd/q", 0, 0x6E, Form.FROM_GPR, 0, false));
                list.add(Op.of("movd/q", 0, 0x7E, Form.STORE_GPR, 0, false));
                list.add(Op.of("pmovmskb", 0, 0xD7, Form.TO_GPR_REG, 0, false));
                return List.copyOf(list);
            }));

    private static Mem mem(SequenceBuilder b, int size, boolean aligned) {
        Mem m = b.mem(size, false);
        return aligned ? Emit.alignTarget(b, m, 16) : m;
    }

    private static void emit(SequenceBuilder b, Op op) {
        emit(b, op, false);
    }

    private static void emit(SequenceBuilder b, Op op, boolean mmx) {
        Random rnd = b.rnd;
        int[] prefix = op.prefix() != 0 ? new int[] {op.prefix()} : new int[0];
        int[] opcode = {0x0F, op.opcode()};
        long imm = op.imm() < 0 ? 0 : rnd.nextInt(op.imm() + 1);
        int immSize = op.imm() < 0 ? 0 : 1;
        String immText = op.imm() < 0 ? "" : ", " + imm;
        Reg x = vector(b, mmx);
        Reg reg = x;                                               // the ModRM.reg operand (null: /digit)
        Operand rm;
        boolean regFirst = true;                                   // operand order in the listing
        int size = rnd.nextBoolean() ? 8 : 4;                      // GPR size where a GPR takes part
        boolean rexW = false;
        switch (op.form()) {
            case XX -> rm = vectorOrMem(b, op, mmx);
            case STORE -> {
                rm = vectorOrMem(b, op, mmx);
                regFirst = false;
            }
            case STORE_MEM -> {
                rm = mem(b, op.memSize(), op.aligned());
                regFirst = false;
            }
            case LOAD_MEM -> rm = mem(b, op.memSize(), op.aligned());
            case REG_ONLY -> rm = vector(b, mmx);
            case FROM_GPR -> {
                rexW = size == 8;
                rm = rnd.nextInt(3) == 0 ? b.mem(size, false) : b.src(size, false);
            }
            case TO_GPR -> {
                rexW = size == 8;
                reg = b.dest(size, false);
                rm = vectorOrMem(b, op, mmx);
            }
            case TO_GPR_REG, PEXTRW -> {
                reg = b.dest(4, false);
                rm = x;
            }
            case STORE_GPR -> {
                rexW = size == 8;
                rm = rnd.nextInt(3) == 0 ? b.mem(size, false) : b.dest(size, false);
                regFirst = false;
            }
            case SHIFT_IMM -> {
                int[] edges = {0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 200};
                imm = rnd.nextBoolean() ? edges[rnd.nextInt(edges.length)] : imm;
                immText = ", " + imm;
                reg = null;
                rm = x;
            }
            default -> rm = rnd.nextInt(3) == 0 ? b.mem(2, false) : b.src(4, false);   // PINSRW xmm, r32/m16
        }
        byte[] bytes = Encoder.modrm(b.pc(), prefix, rexW, opcode, reg == null ? op.ext() : reg.code(), reg, rm, imm,
                immSize);
        String text = op.name() + " " + (reg == null ? rm : regFirst ? reg + ", " + rm : rm + ", " + reg) + immText;
        b.insn(bytes, text, op.setsFlags() ? Flags.STATUS : 0, 0);
    }
}
