package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.mmu.Mmu;

import static dev.flint.engine.emu.cpu.CpuState.FS;
import static dev.flint.engine.emu.cpu.CpuState.SS;

/**
 * Straight-line versions of the integer instructions that dominate kernel and user code in 64-bit mode
 * (moves, ALU operations, LEA, zero/sign extension, near branches, calls, returns, push and pop), run
 * from their decoded operands without going through the general opcode handlers.
 *
 * <p>{@link #classify} picks a form only for the plain encodings (64-bit mode, 64-bit addressing, 32-
 * or 64-bit operands, no LOCK/REP, no segment override other than FS/GS); everything else keeps the
 * general handler. Each form does exactly what that handler does, including fault order: a fault
 * leaves registers and memory as they were and RIP at the instruction.
 */
final class FastPath {
    static final int NONE = 0, MOV_RR = 1, MOV_LOAD = 2, MOV_STORE = 3, ALU_RR = 4, ALU_RI = 5, ALU_LOAD = 6,
            ALU_STORE = 7, ALU_STORE_IMM = 8, LEA = 9, MOVZX_LOAD = 10, MOVZX_RR = 11, MOVSXD = 12, JCC = 13,
            JMP = 14, CALL = 15, RET = 16, PUSH = 17, POP = 18, MOV_RI = 19, MOV_STORE_IMM = 20, INCDEC = 21,
            IMUL_RR = 22, IMUL_LOAD = 23, CMOV_RR = 24, CMOV_LOAD = 25, TEST_RR = 26, TEST_LOAD = 27, SHIFT_RI = 28,
            SETCC_R = 29, SETCC_STORE = 30, NOP = 31, TEST8_RR = 32, TEST8_LOAD = 33, MUL_R = 34, MUL_LOAD = 35,
            SHIFT_RCL = 36, NOT = 37, BSWAP = 38, TEST_RI = 39, TEST_LOAD_IMM = 40, NEG = 41, MOVSXD_LOAD = 42,
            ALU8_RI = 43, ALU8_RR = 44, ALU8_LOAD = 45, MOVSX_RR = 46, MOVSX_LOAD = 47;
    /** Rotations, numbered after the shift kinds of {@link Flags} (which has no kinds for them). */
    static final int ROL = 100, ROR = 101;

    // Package-private for the bytecode InlineForms emits, which works on them directly.
    final Cpu cpu;
    private final CpuState s;
    final long[] r;
    final Flags flags;
    final Mmu mmu;
    private final Stack stack;

    FastPath(Cpu cpu, CpuState s, Mmu mmu, Stack stack) {
        this.cpu = cpu;
        this.s = s;
        this.r = s.gpr;
        this.flags = s.flags;
        this.mmu = mmu;
        this.stack = stack;
    }

    /** Runs {@code d} (whose {@link DecodedInsn#fast} is set) and leaves RIP at the next instruction. */
    void run(DecodedInsn d) {
        long next = d.endIp;
        switch (d.fast) {
            case MOV_RR -> movRR(d);
            case MOV_LOAD -> movLoad(d);
            case MOV_STORE -> movStore(d);
            case MOV_RI -> movRI(d);
            case MOV_STORE_IMM -> movStoreImm(d);
            case ALU_RR -> aluRR(d);
            case ALU_RI -> aluRI(d);
            case ALU_LOAD -> aluLoad(d);
            case ALU_STORE -> aluStore(d);
            case ALU_STORE_IMM -> aluStoreImm(d);
            case TEST_RR -> testRR(d);
            case TEST_LOAD -> testLoad(d);
            case LEA -> lea(d);
            case MOVZX_LOAD -> movzxLoad(d);
            case MOVZX_RR -> movzxRR(d);
            case MOVSXD -> movsxd(d);
            case INCDEC -> incDec(d);
            case IMUL_RR -> imulRR(d);
            case IMUL_LOAD -> imulLoad(d);
            case CMOV_RR -> cmovRR(d);
            case CMOV_LOAD -> cmovLoad(d);
            case SHIFT_RI -> shiftImm(d);
            case SHIFT_RCL -> shiftCl(d);
            case SETCC_R -> setccReg(d);
            case SETCC_STORE -> setccStore(d);
            case NOP -> nop(d);
            case TEST8_RR -> test8RR(d);
            case TEST8_LOAD -> test8Load(d);
            case MUL_R -> mulReg(d);
            case MUL_LOAD -> mulLoad(d);
            case PUSH -> push(d);
            case POP -> pop(d);
            case NOT -> not(d);
            case BSWAP -> bswap(d);
            case TEST_RI -> testRI(d);
            case TEST_LOAD_IMM -> testLoadImm(d);
            case NEG -> neg(d);
            case MOVSXD_LOAD -> movsxdLoad(d);
            case ALU8_RI -> alu8RI(d);
            case ALU8_RR -> alu8RR(d);
            case ALU8_LOAD -> alu8Load(d);
            case MOVSX_RR -> movsxRR(d);
            case MOVSX_LOAD -> movsxLoad(d);
            case JCC -> { if (flags.cond(d.fastOp)) next = d.imm; }
            case JMP -> next = d.imm;
            case CALL -> {
                stack.push64(d.endIp);
                next = d.imm;
            }
            case RET -> next = stack.pop64();
            default -> throw new IllegalStateException("fast form " + d.fast);
        }
        s.rip = next;
    }

    /**
     * The method running each form that never changes RIP (indexed by form; null for branches): what
     * {@link BlockCompiler} calls, one call per instruction, instead of dispatching through {@link #run}.
     */
    static final String[] STRAIGHT_LINE = new String[64];

    static {
        STRAIGHT_LINE[MOV_RR] = "movRR";
        STRAIGHT_LINE[MOV_LOAD] = "movLoad";
        STRAIGHT_LINE[MOV_STORE] = "movStore";
        STRAIGHT_LINE[MOV_RI] = "movRI";
        STRAIGHT_LINE[MOV_STORE_IMM] = "movStoreImm";
        STRAIGHT_LINE[ALU_RR] = "aluRR";
        STRAIGHT_LINE[ALU_RI] = "aluRI";
        STRAIGHT_LINE[ALU_LOAD] = "aluLoad";
        STRAIGHT_LINE[ALU_STORE] = "aluStore";
        STRAIGHT_LINE[ALU_STORE_IMM] = "aluStoreImm";
        STRAIGHT_LINE[TEST_RR] = "testRR";
        STRAIGHT_LINE[TEST_LOAD] = "testLoad";
        STRAIGHT_LINE[LEA] = "lea";
        STRAIGHT_LINE[MOVZX_LOAD] = "movzxLoad";
        STRAIGHT_LINE[MOVZX_RR] = "movzxRR";
        STRAIGHT_LINE[MOVSXD] = "movsxd";
        STRAIGHT_LINE[INCDEC] = "incDec";
        STRAIGHT_LINE[IMUL_RR] = "imulRR";
        STRAIGHT_LINE[IMUL_LOAD] = "imulLoad";
        STRAIGHT_LINE[CMOV_RR] = "cmovRR";
        STRAIGHT_LINE[CMOV_LOAD] = "cmovLoad";
        STRAIGHT_LINE[SHIFT_RI] = "shiftImm";
        STRAIGHT_LINE[SHIFT_RCL] = "shiftCl";
        STRAIGHT_LINE[SETCC_R] = "setccReg";
        STRAIGHT_LINE[SETCC_STORE] = "setccStore";
        STRAIGHT_LINE[NOP] = "nop";
        STRAIGHT_LINE[TEST8_RR] = "test8RR";
        STRAIGHT_LINE[TEST8_LOAD] = "test8Load";
        STRAIGHT_LINE[MUL_R] = "mulReg";
        STRAIGHT_LINE[MUL_LOAD] = "mulLoad";
        STRAIGHT_LINE[PUSH] = "push";
        STRAIGHT_LINE[POP] = "pop";
        STRAIGHT_LINE[NOT] = "not";
        STRAIGHT_LINE[BSWAP] = "bswap";
        STRAIGHT_LINE[TEST_RI] = "testRI";
        STRAIGHT_LINE[TEST_LOAD_IMM] = "testLoadImm";
        STRAIGHT_LINE[NEG] = "neg";
        STRAIGHT_LINE[MOVSXD_LOAD] = "movsxdLoad";
        STRAIGHT_LINE[ALU8_RI] = "alu8RI";
        STRAIGHT_LINE[ALU8_RR] = "alu8RR";
        STRAIGHT_LINE[ALU8_LOAD] = "alu8Load";
        STRAIGHT_LINE[MOVSX_RR] = "movsxRR";
        STRAIGHT_LINE[MOVSX_LOAD] = "movsxLoad";
    }

    void movRR(DecodedInsn d) {
        set(d.dst, d.size, get(d.src, d.size));
    }

    void movLoad(DecodedInsn d) {
        set(d.dst, d.size, mmu.read(address(d), d.size));
    }

    void movStore(DecodedInsn d) {
        mmu.write(address(d), d.size, get(d.src, d.size));
    }

    void movRI(DecodedInsn d) {
        set(d.dst, d.size, d.imm);
    }

    void movStoreImm(DecodedInsn d) {
        mmu.write(address(d), d.size, d.imm);
    }

    void aluRR(DecodedInsn d) {
        int z = d.size;
        long v = Alu.alu(flags, d.fastOp, z, get(d.dst, z), get(d.src, z));
        if (d.fastOp != 7) set(d.dst, z, v);
    }

    void aluRI(DecodedInsn d) {
        int z = d.size;
        long v = Alu.alu(flags, d.fastOp, z, get(d.dst, z), d.imm);
        if (d.fastOp != 7) set(d.dst, z, v);
    }

    void aluLoad(DecodedInsn d) {
        int z = d.size;
        long v = Alu.alu(flags, d.fastOp, z, get(d.dst, z), mmu.read(address(d), z));
        if (d.fastOp != 7) set(d.dst, z, v);
    }

    void aluStore(DecodedInsn d) {
        aluToMemory(d, get(d.src, d.size));
    }

    void aluStoreImm(DecodedInsn d) {
        aluToMemory(d, d.imm);
    }

    void testRR(DecodedInsn d) {
        Alu.alu(flags, 4, d.size, get(d.dst, d.size), get(d.src, d.size));
    }

    void testLoad(DecodedInsn d) {
        Alu.alu(flags, 4, d.size, mmu.read(address(d), d.size), get(d.src, d.size));
    }

    void lea(DecodedInsn d) {
        set(d.dst, d.size, offset(d));
    }

    void movzxLoad(DecodedInsn d) {
        set(d.dst, d.size, mmu.read(address(d), d.fastOp));
    }

    void movzxRR(DecodedInsn d) {
        set(d.dst, d.size, get(d.src, d.fastOp));
    }

    void movsxd(DecodedInsn d) {
        set(d.dst, 8, (int) get(d.src, 4));
    }

    void incDec(DecodedInsn d) {
        set(d.dst, d.size, Alu.incDec(flags, d.fastOp == 0, d.size, get(d.dst, d.size)));
    }

    void imulRR(DecodedInsn d) {
        set(d.dst, d.size, Alu.imul(flags, d.size, get(d.dst, d.size), get(d.src, d.size)));
    }

    void imulLoad(DecodedInsn d) {
        set(d.dst, d.size, Alu.imul(flags, d.size, get(d.dst, d.size), mmu.read(address(d), d.size)));
    }

    void cmovRR(DecodedInsn d) {
        cmov(d, get(d.src, d.size));
    }

    void cmovLoad(DecodedInsn d) {
        cmov(d, mmu.read(address(d), d.size));
    }

    void shiftImm(DecodedInsn d) {
        shift(d, (int) d.imm);
    }

    void shiftCl(DecodedInsn d) {
        shift(d, (int) r[1]);
    }

    void setccReg(DecodedInsn d) {
        r[d.dst] = (r[d.dst] & ~0xFFL) | (flags.cond(d.fastOp) ? 1 : 0);
    }

    void setccStore(DecodedInsn d) {
        mmu.write(address(d), 1, flags.cond(d.fastOp) ? 1 : 0);
    }

    void nop(DecodedInsn d) {
    }

    void test8RR(DecodedInsn d) {
        Alu.alu(flags, 4, 1, r[d.dst] & 0xFF, r[d.src] & 0xFF);
    }

    void test8Load(DecodedInsn d) {
        Alu.alu(flags, 4, 1, mmu.read(address(d), 1), r[d.src] & 0xFF);
    }

    void mulReg(DecodedInsn d) {
        multiply(d.size, get(d.src, d.size));
    }

    void mulLoad(DecodedInsn d) {
        multiply(d.size, mmu.read(address(d), d.size));
    }

    void push(DecodedInsn d) {
        stack.push64(r[d.src]);
    }

    void pop(DecodedInsn d) {
        r[d.dst] = stack.pop64();
    }

    void not(DecodedInsn d) {
        set(d.dst, d.size, ~get(d.dst, d.size));
    }

    void bswap(DecodedInsn d) {
        set(d.dst, d.size, d.size == 8 ? Long.reverseBytes(r[d.dst]) : Integer.reverseBytes((int) r[d.dst]));
    }

    void testRI(DecodedInsn d) {
        Alu.alu(flags, 4, d.size, get(d.dst, d.size), d.imm);
    }

    void testLoadImm(DecodedInsn d) {
        Alu.alu(flags, 4, d.size, mmu.read(address(d), d.size), d.imm);
    }

    void neg(DecodedInsn d) {
        int z = d.size;
        long v = get(d.dst, z);
        long res = -v;
        flags.set(Flags.SUB, z, 0, v, res);
        set(d.dst, z, res);
    }

    void movsxdLoad(DecodedInsn d) {
        set(d.dst, 8, (int) mmu.read(address(d), 4));
    }

    /** An ALU operation on a byte register (AL..R15B, never AH..BH) with an immediate. */
    void alu8RI(DecodedInsn d) {
        alu8(d, d.imm);
    }

    /** The same with a byte register source. */
    void alu8RR(DecodedInsn d) {
        alu8(d, r[d.src] & 0xFF);
    }

    /** The same with a byte in memory as the source. */
    void alu8Load(DecodedInsn d) {
        alu8(d, mmu.read(address(d), 1));
    }

    private void alu8(DecodedInsn d, long source) {
        long v = Alu.alu(flags, d.fastOp, 1, r[d.dst] & 0xFF, source);
        if (d.fastOp != 7) r[d.dst] = (r[d.dst] & ~0xFFL) | v;
    }

    /** MOVSX from a byte or word register ({@code fastOp} = 1 or 2) to a 32- or 64-bit one. */
    void movsxRR(DecodedInsn d) {
        set(d.dst, d.size, signExtend(r[d.src], d.fastOp));
    }

    void movsxLoad(DecodedInsn d) {
        set(d.dst, d.size, signExtend(mmu.read(address(d), d.fastOp), d.fastOp));
    }

    private static long signExtend(long v, int bytes) {
        return bytes == 1 ? (byte) v : (short) v;
    }

    private void aluToMemory(DecodedInsn d, long source) {
        int z = d.size;
        long lin = address(d);
        long v = Alu.alu(flags, d.fastOp, z, mmu.read(lin, z), source);
        if (d.fastOp != 7) mmu.write(lin, z, v);
    }

    private void cmov(DecodedInsn d, long v) {
        if (flags.cond(d.fastOp)) set(d.dst, d.size, v);
        else if (d.size == 4) r[d.dst] &= 0xFFFF_FFFFL; // a 32-bit CMOV zero-extends either way
    }

    /** True if a conditional branch is taken (compiled blocks: the branch in the middle of a block). */
    boolean taken(DecodedInsn d) { return flags.cond(d.fastOp); }

    /** Compiled blocks: RIP after the block's last instruction (a branch, or one that falls through). */
    void jump(long rip) { s.rip = rip; }

    /** Compiled blocks: true if RIP is {@code rip} (a branch in the middle fell through). */
    boolean atRip(long rip) { return s.rip == rip; }

    /** SHL/SHR/SAR/ROL/ROR of a register; a zero count still zero-extends a 32-bit register. */
    private void shift(DecodedInsn d, int rawCount) {
        int z = d.size;
        long old = get(d.dst, z);
        int count = rawCount & (z == 8 ? 0x3F : 0x1F);
        if (count == 0) {
            set(d.dst, z, old);
            return;
        }
        if (d.fastOp >= ROL) {
            rotate(d, z, old, count);
            return;
        }
        long v = switch (d.fastOp) {
            case Flags.SHL -> old << count;
            case Flags.SHR -> old >>> count;
            default -> z == 8 ? old >> count : (long) (int) old >> count;
        };
        set(d.dst, z, v);
        flags.set(d.fastOp, z, old, count, z == 8 ? v : v & 0xFFFF_FFFFL);
    }

    /** ROL/ROR by a count below the operand width (32 or 64): only CF and OF change. */
    private void rotate(DecodedInsn d, int z, long old, int count) {
        long v;
        if (z == 8) {
            v = d.fastOp == ROL ? Long.rotateLeft(old, count) : Long.rotateRight(old, count);
        } else {
            v = (d.fastOp == ROL ? Integer.rotateLeft((int) old, count) : Integer.rotateRight((int) old, count))
                    & 0xFFFF_FFFFL;
        }
        set(d.dst, z, v);
        rotateFlags(d.fastOp == ROL, z, v);
    }

    /** The flags of a rotation that gave {@code v} (count not zero): CF and OF change, the others stay. */
    void rotateFlags(boolean left, int z, long v) {
        int top = z * 8 - 1;
        boolean cf, of;
        if (left) {
            cf = (v & 1) != 0;
            of = (((v >>> top) & 1) != 0) ^ cf;
        } else {
            cf = ((v >>> top) & 1) != 0;
            of = cf ^ (((v >>> (top - 1)) & 1) != 0);
        }
        long f = flags.arith() & ~(Flags.CF | Flags.OF);
        flags.setArith(f | (cf ? Flags.CF : 0) | (of ? Flags.OF : 0));
    }

    /** MUL: RDX:RAX (or EDX:EAX) = RAX * source, unsigned; CF and OF say whether the high half is used. */
    private void multiply(int z, long source) {
        long lo, hi;
        if (z == 8) {
            long a = r[0];
            lo = a * source;
            hi = Math.unsignedMultiplyHigh(a, source);
        } else {
            long p = (r[0] & 0xFFFF_FFFFL) * (source & 0xFFFF_FFFFL);
            lo = p & 0xFFFF_FFFFL;
            hi = p >>> 32;
        }
        set(0, z, lo);
        set(2, z, hi);
        Alu.mulFlags(flags, z, lo, hi != 0);
    }

    private long get(int n, int z) {
        return switch (z) {
            case 8 -> r[n];
            case 4 -> r[n] & 0xFFFF_FFFFL;
            case 2 -> r[n] & 0xFFFF;
            default -> r[n] & 0xFF; // byte registers only where REX or the encoding rules out AH..BH
        };
    }

    /** Writes a 32- or 64-bit register (32-bit writes zero the upper half, as in 64-bit mode). */
    private void set(int n, int z, long v) { r[n] = z == 8 ? v : v & 0xFFFF_FFFFL; }

    private long offset(DecodedInsn d) {
        long off = d.disp;
        if (d.base >= 0) off += r[d.base];
        if (d.index >= 0) off += r[d.index] << d.scale;
        return off;
    }

    private long address(DecodedInsn d) {
        long lin = offset(d);
        if (d.seg >= FS) lin += segmentBase(d.seg);
        return canonical(lin, d.eaSeg);
    }

    /** The base of FS or GS (the only segments with a base in 64-bit mode). */
    long segmentBase(int seg) { return s.segBase[seg]; }

    /** The linear address if canonical, else the fault a non-canonical one raises (#SS on the stack). */
    static long canonical(long lin, int eaSeg) {
        if (((lin << 16) >> 16) != lin) throw GuestFault.of(eaSeg == SS ? GuestFault.SS : GuestFault.GP, 0);
        return lin;
    }

    // ------------------------------------------------------------------ classification

    /**
     * Picks the fast form for a just-recorded instruction, or leaves {@link DecodedInsn#fast} at NONE.
     * Called once per decoded instruction, with its code bytes.
     */
    static void classify(DecodedInsn d, boolean mode64, byte[] code, int at) {
        if (!mode64 || d.lock || d.repPrefix != 0 || d.adSize != 8) return;
        int z = d.opSize;
        boolean wide = z == 4 || z == 8;
        int op = d.opcode;
        boolean mem = d.hasModrm && d.memOp;
        // An ES/CS/SS/DS override only matters to a memory operand (kernels pad calls with CS prefixes).
        if (mem && d.seg >= 0 && d.seg < FS) return;
        boolean regForm = d.hasModrm && !d.memOp;
        if (mem && d.ripRel) {
            // RIP-relative: the offset is fixed once the instruction's end is known.
            d.disp += d.endIp;
            d.ripRel = false;
        }
        int reg = d.reg, rm = d.rm;
        d.size = (byte) z;
        if (!d.twoByte) {
            if (op < 0x40 && (op & 7) <= 3) { // ALU Eb,Gb / Ev,Gv / Gb,Eb / Gv,Ev
                boolean bytes = (op & 1) == 0;
                // Byte registers: without REX, numbers 4..7 are AH..BH, left to the general handler.
                if (bytes ? !d.rex && (reg >= 4 || (regForm && rm >= 4)) : !wide) return;
                d.fastOp = (byte) (op >> 3);
                if (bytes) d.size = 1;
                boolean toRm = (op & 2) == 0;
                if (regForm) {
                    d.dst = (byte) (toRm ? rm : reg);
                    d.src = (byte) (toRm ? reg : rm);
                    d.fast = (short) (bytes ? ALU8_RR : ALU_RR);
                } else if (mem) {
                    d.dst = (byte) reg;
                    d.src = (byte) reg;
                    d.fast = (short) (toRm ? ALU_STORE : bytes ? ALU8_LOAD : ALU_LOAD);
                }
                return;
            }
            switch (op) {
                case 0x05, 0x0D, 0x15, 0x1D, 0x25, 0x2D, 0x35, 0x3D -> { // ALU rAX, imm32
                    if (!wide) return;
                    d.fastOp = (byte) (op >> 3);
                    d.dst = 0;
                    d.imm = (long) readInt(code, at + d.length - 4) & (z == 8 ? -1L : 0xFFFF_FFFFL);
                    d.fast = ALU_RI;
                }
                case 0x04, 0x0C, 0x14, 0x1C, 0x24, 0x2C, 0x34, 0x3C -> { // ALU AL, imm8
                    d.fastOp = (byte) (op >> 3);
                    d.dst = 0;
                    d.imm = code[at + d.length - 1] & 0xFF;
                    d.fast = ALU8_RI;
                }
                case 0xA8, 0xA9 -> { // TEST AL, imm8 / TEST rAX, imm32
                    if (op == 0xA9 && !wide) return;
                    d.size = (byte) (op == 0xA8 ? 1 : z);
                    d.dst = 0;
                    d.imm = op == 0xA8 ? code[at + d.length - 1] & 0xFF
                            : (long) readInt(code, at + d.length - 4) & (z == 8 ? -1L : 0xFFFF_FFFFL);
                    d.fast = TEST_RI;
                }
                case 0x80 -> { // ALU r/m8, imm8
                    if (regForm && !d.rex && rm >= 4) return; // AH..BH: the general handler
                    d.fastOp = (byte) (reg & 7);
                    d.size = 1;
                    d.imm = code[at + d.length - 1] & 0xFF;
                    if (regForm) {
                        d.dst = (byte) rm;
                        d.fast = ALU8_RI;
                    } else {
                        d.fast = ALU_STORE_IMM;
                    }
                }
                case 0xF6 -> { // TEST r/m8, imm8
                    if ((reg & 7) != 0 || (regForm && !d.rex && rm >= 4)) return;
                    d.size = 1;
                    d.dst = (byte) rm;
                    d.imm = code[at + d.length - 1] & 0xFF;
                    d.fast = (short) (regForm ? TEST_RI : TEST_LOAD_IMM);
                }
                case 0x88 -> { // MOV m8, r8
                    if (!mem || (!d.rex && reg >= 4)) return;
                    d.size = 1;
                    d.src = (byte) reg;
                    d.fast = MOV_STORE;
                }
                case 0xC6 -> { // MOV m8, imm8
                    if (!mem || (reg & 7) != 0) return;
                    d.size = 1;
                    d.imm = code[at + d.length - 1] & 0xFF;
                    d.fast = MOV_STORE_IMM;
                }
                case 0x81, 0x83 -> {
                    if (!wide || !d.hasModrm) return;
                    d.fastOp = (byte) (reg & 7);
                    d.imm = op == 0x83 ? (long) code[at + d.length - 1] : (long) readInt(code, at + d.length - 4);
                    d.imm &= z == 8 ? -1L : 0xFFFF_FFFFL;
                    if (regForm) {
                        d.dst = (byte) rm;
                        d.fast = ALU_RI;
                    } else {
                        d.fast = ALU_STORE_IMM;
                    }
                }
                case 0x85 -> {
                    if (!wide) return;
                    d.src = (byte) reg;
                    d.dst = (byte) rm;
                    d.fast = (short) (regForm ? TEST_RR : TEST_LOAD);
                }
                case 0x89 -> {
                    if (!wide && !(z == 2 && mem)) return; // 16-bit stores too, not 16-bit register writes
                    d.src = (byte) reg;
                    d.dst = (byte) rm;
                    d.fast = (short) (regForm ? MOV_RR : MOV_STORE);
                }
                case 0x8B -> {
                    if (!wide) return;
                    d.dst = (byte) reg;
                    d.src = (byte) rm;
                    d.fast = (short) (regForm ? MOV_RR : MOV_LOAD);
                }
                case 0x8D -> {
                    if (!wide || !mem || d.seg >= 0) return;
                    d.dst = (byte) reg;
                    d.fast = LEA;
                }
                case 0x63 -> {
                    if (z != 8) return;
                    d.dst = (byte) reg;
                    if (regForm) {
                        d.src = (byte) rm;
                        d.fast = MOVSXD;
                    } else if (mem) {
                        d.fast = MOVSXD_LOAD;
                    }
                }
                case 0xB8, 0xB9, 0xBA, 0xBB, 0xBC, 0xBD, 0xBE, 0xBF -> {
                    if (!wide) return;
                    d.dst = (byte) ((op & 7) | d.rexB);
                    d.imm = z == 8 ? readLong(code, at + d.length - 8) : readInt(code, at + d.length - 4) & 0xFFFF_FFFFL;
                    d.fast = MOV_RI;
                }
                case 0xC7 -> {
                    if (!wide || (reg & 7) != 0) return;
                    d.imm = readInt(code, at + d.length - 4);
                    if (z == 4) d.imm &= 0xFFFF_FFFFL;
                    if (regForm) {
                        d.dst = (byte) rm;
                        d.fast = MOV_RI;
                    } else {
                        d.fast = MOV_STORE_IMM;
                    }
                }
                case 0xFF -> {
                    if (!wide || !regForm || (reg & 7) > 1) return;
                    d.dst = (byte) rm;
                    d.fastOp = (byte) (reg & 7);
                    d.fast = INCDEC;
                }
                case 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57 -> {
                    if (d.has66) return;
                    d.src = (byte) ((op & 7) | d.rexB);
                    d.fast = PUSH;
                }
                case 0x58, 0x59, 0x5A, 0x5B, 0x5C, 0x5D, 0x5E, 0x5F -> {
                    if (d.has66) return;
                    d.dst = (byte) ((op & 7) | d.rexB);
                    d.fast = POP;
                }
                case 0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x7B, 0x7C, 0x7D, 0x7E, 0x7F -> {
                    d.fastOp = (byte) (op & 15);
                    branch(d, code[at + d.length - 1], JCC);
                }
                case 0xEB -> branch(d, code[at + d.length - 1], JMP);
                case 0xE9 -> branch(d, readInt(code, at + d.length - 4), JMP);
                case 0xE8 -> { if (!d.has66) branch(d, readInt(code, at + d.length - 4), CALL); }
                case 0xC3 -> { if (!d.has66) d.fast = RET; }
                case 0xC1, 0xD1, 0xD3 -> {
                    int kind = switch (reg & 7) {
                        case 0 -> ROL;
                        case 1 -> ROR;
                        case 4, 6 -> Flags.SHL;
                        case 5 -> Flags.SHR;
                        case 7 -> Flags.SAR;
                        default -> -1;
                    };
                    if (!wide || !regForm || kind < 0) return;
                    d.fastOp = (byte) kind;
                    d.dst = (byte) rm;
                    d.imm = op == 0xC1 ? code[at + d.length - 1] & 0xFF : 1;
                    d.fast = (short) (op == 0xD3 ? SHIFT_RCL : SHIFT_RI);
                }
                case 0x84 -> {
                    // Byte registers: without REX, numbers 4..7 are AH..BH, left to the general handler.
                    if (!d.rex && (reg >= 4 || (regForm && rm >= 4))) return;
                    d.src = (byte) reg;
                    d.dst = (byte) rm;
                    d.fast = (short) (regForm ? TEST8_RR : TEST8_LOAD);
                }
                case 0xF7 -> {
                    if (!wide) return;
                    if ((reg & 7) == 2 && regForm) {
                        d.dst = (byte) rm;
                        d.fast = NOT;
                    } else if ((reg & 7) == 3 && regForm) {
                        d.dst = (byte) rm;
                        d.fast = NEG;
                    } else if ((reg & 7) == 0) { // TEST r/m, imm32
                        d.dst = (byte) rm;
                        d.imm = (long) readInt(code, at + d.length - 4) & (z == 8 ? -1L : 0xFFFF_FFFFL);
                        d.fast = (short) (regForm ? TEST_RI : TEST_LOAD_IMM);
                    } else if ((reg & 7) == 4) {
                        d.src = (byte) rm;
                        d.fast = (short) (regForm ? MUL_R : MUL_LOAD);
                    }
                }
                case 0x90 -> { if (d.rexB == 0) d.fast = NOP; }
                default -> { }
            }
            return;
        }
        switch (op) {
            case 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8B, 0x8C, 0x8D, 0x8E, 0x8F -> {
                d.fastOp = (byte) (op & 15);
                branch(d, readInt(code, at + d.length - 4), JCC);
            }
            case 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F -> {
                if (!wide) return;
                d.fastOp = (byte) (op & 15);
                d.dst = (byte) reg;
                d.src = (byte) rm;
                d.fast = (short) (regForm ? CMOV_RR : CMOV_LOAD);
            }
            case 0x1F -> d.fast = NOP; // NOP r/m: no memory access
            case 0xC8, 0xC9, 0xCA, 0xCB, 0xCC, 0xCD, 0xCE, 0xCF -> {
                if (!wide) return;
                d.dst = (byte) ((op & 7) | d.rexB);
                d.fast = BSWAP;
            }
            case 0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F -> {
                d.fastOp = (byte) (op & 15);
                if (regForm && (d.rex || rm < 4)) {
                    d.dst = (byte) rm;
                    d.fast = SETCC_R;
                } else if (mem) {
                    d.fast = SETCC_STORE;
                }
            }
            case 0xAF -> {
                if (!wide) return;
                d.dst = (byte) reg;
                d.src = (byte) rm;
                d.fast = (short) (regForm ? IMUL_RR : IMUL_LOAD);
            }
            case 0xB6, 0xB7, 0xBE, 0xBF -> { // MOVZX, MOVSX
                if (!wide) return;
                boolean signed = op >= 0xBE;
                d.fastOp = (byte) ((op & 1) == 0 ? 1 : 2);
                d.dst = (byte) reg;
                d.src = (byte) rm;
                // A byte register without REX may be AH..BH: leave those to the general handler.
                if (regForm && (d.fastOp == 2 || d.rex || rm < 4)) d.fast = (short) (signed ? MOVSX_RR : MOVZX_RR);
                else if (mem) d.fast = (short) (signed ? MOVSX_LOAD : MOVZX_LOAD);
            }
            default -> { }
        }
    }

    /** A near branch: its target is fixed; a non-canonical one stays with the general handler (#GP). */
    private static void branch(DecodedInsn d, long displacement, int form) {
        if (d.has66) return;
        long target = d.endIp + displacement;
        if (((target << 16) >> 16) != target) return;
        d.imm = target;
        d.fast = (short) form;
    }

    private static int readInt(byte[] b, int at) {
        return (b[at] & 0xFF) | (b[at + 1] & 0xFF) << 8 | (b[at + 2] & 0xFF) << 16 | (b[at + 3] & 0xFF) << 24;
    }

    private static long readLong(byte[] b, int at) {
        return (readInt(b, at) & 0xFFFF_FFFFL) | (long) readInt(b, at + 4) << 32;
    }
}
