package dev.flint.engine.emu.nativecode;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Writes x86-64 machine code into a growing byte buffer: 64- and 32-bit register moves and ALU forms, loads and
 * stores at [base + disp32] and [base + index], immediates, push/pop, near jumps to labels (rel32, patched when
 * the label is bound) and to code already in a {@link CodeCache} (rel32, resolved when the code is linked at its
 * place in the cache), and LAHF/SETO/SAHF to keep arithmetic flags across the translator's own checks.
 *
 * <p>Registers are the hardware numbers (0 = RAX ... 15 = R15). Every encoding is written from the opcode tables
 * of the Intel SDM volume 2 (REX prefix, ModRM, SIB); {@code X64EmitterTest} checks each family against bytes
 * derived by hand. The emitter checks what the encodings cannot express (RSP as an index, a label bound twice, a
 * jump to a label never bound) and throws rather than write wrong code: a wrong byte here is a crash of the
 * JVM, not an exception.
 */
public final class X64Emitter {
    public static final int RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7,
            R8 = 8, R9 = 9, R10 = 10, R11 = 11, R12 = 12, R13 = 13, R14 = 14, R15 = 15;
    /** Opcodes of the "op r/m, reg" forms ({@link #aluRR}). */
    public static final int ADD = 0x01, OR = 0x09, AND = 0x21, SUB = 0x29, XOR = 0x31, CMP = 0x39, MOV = 0x89;
    /** Opcodes of the "op reg, r/m" forms ({@link #opIndexedDisp}). */
    public static final int ADD_LOAD = 0x03, CMP_LOAD = 0x3B, MOV_LOAD = 0x8B;
    /** The /digit of group 1 (0x81 imm32) and of group 2 (0xC1 imm8, shifts). */
    public static final int EXT_ADD = 0, EXT_OR = 1, EXT_AND = 4, EXT_SUB = 5, EXT_XOR = 6, EXT_CMP = 7,
            EXT_SHL = 4, EXT_SHR = 5, EXT_SAR = 7;
    /** Condition codes (the low nibble of 0F 8x jcc). */
    public static final int CC_O = 0, CC_NO = 1, CC_B = 2, CC_AE = 3, CC_Z = 4, CC_NZ = 5, CC_BE = 6, CC_A = 7,
            CC_S = 8, CC_NS = 9, CC_L = 0xC, CC_GE = 0xD, CC_LE = 0xE, CC_G = 0xF;

    /** A jump target inside this emitter's code: its position once bound, and the rel32 fields waiting for it. */
    public static final class Label {
        private int at = -1;
        private final List<Integer> fixups = new ArrayList<>();

        /** The bound position, or -1 while unbound. */
        public int position() { return at; }

        public boolean isBound() { return at >= 0; }
    }

    /** A rel32 field at {@code field} whose target is the cache offset {@code target}: resolved by {@link #linkedAt}. */
    private record External(int field, long target) {}

    private byte[] out = new byte[256];
    private int size;
    private final List<Label> pending = new ArrayList<>();
    private final List<External> externals = new ArrayList<>();

    public int position() { return size; }

    /**
     * The code as written, for code with no jumps out of it ({@link #jmpTo}); position-independent as long as
     * every label is bound.
     */
    public byte[] bytes() {
        if (!externals.isEmpty()) throw new IllegalStateException("code with jumps into the cache must be linked at its place");
        return linkedAt(0);
    }

    /**
     * The code as it must be written at cache offset {@code origin}: every rel32 to code in the cache made
     * relative to where its field will be. Fails if a label is still unbound.
     */
    public byte[] linkedAt(long origin) {
        for (Label l : pending) {
            if (!l.isBound()) throw new IllegalStateException("a jump to a label that was never bound");
        }
        byte[] code = Arrays.copyOf(out, size);
        for (External x : externals) {
            long rel = x.target() - (origin + x.field() + 4);
            if (rel != (int) rel) throw new IllegalArgumentException("jump target out of rel32 reach: " + rel);
            put32(code, x.field(), (int) rel);
        }
        return code;
    }

    private void b(int v) {
        if (size == out.length) out = Arrays.copyOf(out, 2 * size);
        out[size++] = (byte) v;
    }

    private void imm32(long v) { for (int i = 0; i < 4; i++) b((int) (v >>> (8 * i))); }

    private static void put32(byte[] code, int at, int v) {
        for (int i = 0; i < 4; i++) code[at + i] = (byte) (v >>> (8 * i));
    }

    private static int reg(int r) {
        if (r < 0 || r > 15) throw new IllegalArgumentException("no register " + r);
        return r;
    }

    /**
     * REX (0100WRXB) when any part needs it: a 64-bit operand size (W), an extended ModRM.reg (R), SIB.index (X)
     * or ModRM.rm / SIB.base / opcode register (B), or {@code force} for the byte registers SPL/BPL/SIL/DIL,
     * which without a REX prefix would mean AH/CH/DH/BH.
     */
    private void rex(boolean w, int reg, int index, int base, boolean force) {
        int r = 0x40 | (w ? 8 : 0) | ((reg(reg) >> 3) & 1) << 2 | ((reg(index) >> 3) & 1) << 1 | ((reg(base) >> 3) & 1);
        if (r != 0x40 || force) b(r);
    }

    /** op r/m, reg with two registers (64-bit when {@code w}, else 32-bit, which zero-extends the destination). */
    public void aluRR(int opcode, boolean w, int dst, int src) {
        rex(w, src, 0, dst, false);
        b(opcode);
        b(0xC0 | (src & 7) << 3 | (dst & 7));
    }

    /** 0x81 /ext imm32 (sign-extended) on a 64-bit register. */
    public void aluRI(int ext, int dst, int imm) {
        rex(true, 0, 0, dst, false);
        b(0x81);
        b(0xC0 | ext << 3 | (dst & 7));
        imm32(imm);
    }

    /** ModRM with mod = 10 (disp32) and, for RSP/R12 as the base (rm = 100 means "a SIB follows"), SIB 0x24. */
    private void memDisp(int reg, int base, int disp) {
        b(0x80 | (reg & 7) << 3 | (base & 7));
        if ((base & 7) == RSP) b(0x24);
        imm32(disp);
    }

    /**
     * ModRM with mod = 01 and a SIB for [base + index], with a zero disp8: mod 00 with base RBP/R13 would mean
     * "no base, disp32", mod 01 encodes them as bases like any other.
     */
    private void memIndex(int reg, int base, int index) {
        if (index == RSP) throw new IllegalArgumentException("RSP cannot be an index");
        b(0x44 | (reg & 7) << 3);
        b((index & 7) << 3 | (base & 7));
        b(0);
    }

    /** mov reg64, [base + disp]. */
    public void load(int dst, int base, int disp) {
        rex(true, dst, 0, base, false);
        b(0x8B);
        memDisp(dst, base, disp);
    }

    /** mov [base + disp], reg64. */
    public void store(int base, int disp, int src) {
        rex(true, src, 0, base, false);
        b(0x89);
        memDisp(src, base, disp);
    }

    /** mov reg64, [base + index]. */
    public void loadIndexed(int dst, int base, int index) {
        rex(true, dst, index, base, false);
        b(0x8B);
        memIndex(dst, base, index);
    }

    /** mov [base + index], reg64. */
    public void storeIndexed(int base, int index, int src) {
        rex(true, src, index, base, false);
        b(0x89);
        memIndex(src, base, index);
    }

    /**
     * op reg64, [base + index + disp32] for the "reg, r/m" forms ({@link #MOV_LOAD}, {@link #ADD_LOAD},
     * {@link #CMP_LOAD}), or an opcode whose ModRM.reg is a /digit (0xFF with 4: jmp qword [base + index + disp]).
     */
    public void opIndexedDisp(int opcode, int reg, int base, int index, int disp) {
        if (index == RSP) throw new IllegalArgumentException("RSP cannot be an index");
        rex(true, reg, index, base, false);
        b(opcode);
        b(0x84 | (reg & 7) << 3);
        b((index & 7) << 3 | (base & 7));
        imm32(disp);
    }

    /** mov qword [base + disp], imm32 (sign-extended). */
    public void storeImm32(int base, int disp, int imm) {
        rex(true, 0, 0, base, false);
        b(0xC7);
        memDisp(0, base, disp);
        imm32(imm);
    }

    /** 0xC1 /ext imm8 on a 64-bit register: {@link #EXT_SHL}, {@link #EXT_SHR}, {@link #EXT_SAR}. */
    public void shift(int ext, int r, int count) {
        rex(true, 0, 0, r, false);
        b(0xC1);
        b(0xC0 | ext << 3 | (r & 7));
        b(count);
    }

    /** lea reg64, [base + disp32] (leaves the flags alone). */
    public void lea(int dst, int base, int disp) {
        rex(true, dst, 0, base, false);
        b(0x8D);
        memDisp(dst, base, disp);
    }

    /** mov reg32, imm32 (B8+r; zero-extends into the 64-bit register; leaves the flags alone). */
    public void movImm32(int dst, int imm) {
        rex(false, 0, 0, dst, false);
        b(0xB8 | (dst & 7));
        imm32(imm);
    }

    /** mov reg64, imm64 (REX.W B8+r). */
    public void movImm64(int dst, long imm) {
        rex(true, 0, 0, dst, false);
        b(0xB8 | (dst & 7));
        imm32(imm);
        imm32(imm >>> 32);
    }

    /** dec reg32 (FF /1). */
    public void dec32(int r) {
        rex(false, 0, 0, r, false);
        b(0xFF);
        b(0xC8 | (r & 7));
    }

    /** test reg8, imm8 on the low byte (F6 /0 ib). */
    public void testByte(int r, int imm) {
        rex(false, 0, 0, r, r >= 4 && r < 8);
        b(0xF6);
        b(0xC0 | (r & 7));
        b(imm);
    }

    public void push(int r) { rex(false, 0, 0, r, false); b(0x50 | (r & 7)); }

    public void pop(int r) { rex(false, 0, 0, r, false); b(0x58 | (r & 7)); }

    public void ret() { b(0xC3); }

    public void pushfq() { b(0x9C); }

    /** lea reg64, [rip + label]. */
    public void leaRip(int dst, Label l) {
        rex(true, dst, 0, 0, false);
        b(0x8D);
        b(0x05 | (dst & 7) << 3);
        rel(l);
    }

    /** jmp qword [base + disp32] (FF /4). */
    public void jmpMem(int base, int disp) {
        rex(false, 0, 0, base, false);
        b(0xFF);
        memDisp(4, base, disp);
    }

    /** jmp reg64 (FF /4, register form). */
    public void jmpReg(int r) { rex(false, 0, 0, r, false); b(0xFF); b(0xE0 | (r & 7)); }

    /** call reg64 (FF /2, register form). */
    public void callReg(int r) { rex(false, 0, 0, r, false); b(0xFF); b(0xD0 | (r & 7)); }

    /** lahf; seto al: the six arithmetic flags into AX (the caller keeps RAX free for them). */
    public void saveFlagsToAx() { b(0x9F); b(0x0F); b(0x90); b(0xC0); }

    /** add al, 0x7f; sahf: OF back from AL's 0/1 (0x7F + 1 overflows), then SF ZF AF PF CF from AH. */
    public void restoreFlagsFromAx() { b(0x04); b(0x7F); b(0x9E); }

    /** popfq from a register's value: push reg; popfq. */
    public void popfqFrom(int r) { push(r); b(0x9D); }

    /** jmp rel32 to a label. */
    public void jmp(Label l) { b(0xE9); rel(l); }

    /** jcc rel32 (0F 80+cc) to a label. */
    public void jcc(int cc, Label l) {
        if (cc < 0 || cc > 15) throw new IllegalArgumentException("no condition " + cc);
        b(0x0F);
        b(0x80 | cc);
        rel(l);
    }

    /**
     * jmp rel32 to code already at offset {@code cacheOffset} of the code cache this code will be installed in:
     * how one translated block chains to another. Resolved by {@link #linkedAt}.
     */
    public void jmpTo(long cacheOffset) {
        b(0xE9);
        externals.add(new External(position(), cacheOffset));
        imm32(0);
    }

    /** The cache offsets of every {@link #jmpTo}, in order: what this code depends on staying in the cache. */
    public long[] jumpTargets() {
        return externals.stream().mapToLong(External::target).toArray();
    }

    private void rel(Label l) {
        if (l.at >= 0) {
            imm32(l.at - (position() + 4));
        } else {
            if (l.fixups.isEmpty()) pending.add(l);
            l.fixups.add(position());
            imm32(0);
        }
    }

    /** Binds {@code l} here and patches the jumps already waiting for it. */
    public void bind(Label l) {
        if (l.at >= 0) throw new IllegalStateException("label bound twice");
        l.at = position();
        for (int f : l.fixups) put32(out, f, l.at - (f + 4));
        l.fixups.clear();
    }

    // --- emuntlb: sized loads and stores at [base + index], memory-operand forms, the soft-TLB probe ---

    /** The entry format {@link #tlbLoad} and {@link #tlbStore} read: {page number, addend}, 16 bytes. */
    public static final int TLB_ENTRY_BYTES = 16, TLB_PAGE = 0, TLB_ADDEND = 8;

    /**
     * A load of {@code size} bytes (1, 2, 4, 8) from [base + index] into {@code dst}, zero-extended to 64 bits:
     * movzx r32, byte (0F B6), movzx r32, word (0F B7), mov r32 (8B; a 32-bit destination clears bits 63:32),
     * mov r64 (REX.W 8B).
     */
    public void loadSized(int size, int dst, int base, int index) {
        switch (size) {
            case 1, 2 -> { rex(false, dst, index, base, false); b(0x0F); b(size == 1 ? 0xB6 : 0xB7); }
            case 4 -> { rex(false, dst, index, base, false); b(0x8B); }
            case 8 -> { rex(true, dst, index, base, false); b(0x8B); }
            default -> throw new IllegalArgumentException("no access of " + size + " bytes");
        }
        memIndex(dst, base, index);
    }

    /**
     * A store of the low {@code size} bytes (1, 2, 4, 8) of {@code src} at [base + index]: 88 (a REX prefix for
     * SPL/BPL/SIL/DIL, which would be AH/CH/DH/BH without one), 66 89, 89, REX.W 89.
     */
    public void storeSized(int size, int base, int index, int src) {
        switch (size) {
            case 1 -> { rex(false, src, index, base, src >= 4 && src < 8); b(0x88); }
            case 2 -> { b(0x66); rex(false, src, index, base, false); b(0x89); }
            case 4 -> { rex(false, src, index, base, false); b(0x89); }
            case 8 -> { rex(true, src, index, base, false); b(0x89); }
            default -> throw new IllegalArgumentException("no access of " + size + " bytes");
        }
        memIndex(src, base, index);
    }

    /** op reg64, [base + disp32] for the "reg, r/m" opcodes ({@link #ADD_LOAD}, {@link #CMP_LOAD}, {@link #MOV_LOAD}). */
    public void opLoad(int opcode, int reg, int base, int disp) {
        rex(true, reg, 0, base, false);
        b(opcode);
        memDisp(reg, base, disp);
    }

    /** lea reg64, [base + index] (leaves the flags alone). */
    public void leaIndexed(int dst, int base, int index) {
        rex(true, dst, index, base, false);
        b(0x8D);
        memIndex(dst, base, index);
    }

    /** cmp byte [base + disp32], imm8 (80 /7 ib). */
    public void cmpByteImm(int base, int disp, int imm) {
        rex(false, 0, 0, base, false);
        b(0x80);
        memDisp(7, base, disp);
        b(imm);
    }

    /**
     * The soft-TLB probe for a load: {@code dst} = the {@code size} bytes (1, 2, 4, 8; zero-extended) at the
     * guest linear address in {@code addr}, through the TLB whose header address is in {@code tlb} and whose
     * current row's address is the word at [tlb + rowDisp]. Entry {@code (addr >>> 12) & indexMask} of the row
     * must hold the page number of the access's LAST byte (so one compare also refuses a page-crossing access)
     * and an addend: the host address is addr + addend. Otherwise the code jumps to {@code miss} with
     * {@code addr}, {@code tlb} and {@code dst} unchanged (the exit path hands the access to Java).
     *
     * <p>Clobbers {@code s1} and {@code s2} and, unless {@code keepFlags}, the host's arithmetic flags. With
     * {@code keepFlags} they are kept in AX around the probe (LAHF; SETO AL ... ADD AL, 7FH; SAHF): RAX is then
     * clobbered and may be none of the operands, and at {@code miss} the flags are in AX, not restored (the
     * exit path restores them with {@link #restoreFlagsFromAx}).
     */
    public void tlbLoad(int size, int dst, int addr, int tlb, int rowDisp, int indexMask, int s1, int s2,
                        boolean keepFlags, Label miss) {
        probeChecks(size, addr, tlb, s1, s2, keepFlags, dst);
        tlbHit(size, addr, tlb, rowDisp, indexMask, s1, s2, keepFlags, miss);
        loadSized(size, dst, addr, s2);
        if (keepFlags) restoreFlagsFromAx();
    }

    /**
     * The soft-TLB probe for a store of the low {@code size} bytes of {@code src} at the linear address in
     * {@code addr}, as {@link #tlbLoad} (the write row at [tlb + rowDisp]); on a hit it then reads the code mark
     * of the host page, the byte at ((host address >>> 12) + the word at [tlb + codeBiasDisp]), and jumps to
     * {@code codePage} without storing when it is set (a store into decoded code goes through Java, which bumps
     * the page's version). {@code src} may not be a scratch register.
     */
    public void tlbStore(int size, int src, int addr, int tlb, int rowDisp, int codeBiasDisp, int indexMask,
                         int s1, int s2, boolean keepFlags, Label miss, Label codePage) {
        probeChecks(size, addr, tlb, s1, s2, keepFlags, src);
        if (src == s1 || src == s2) throw new IllegalArgumentException("the stored register is a scratch register");
        tlbHit(size, addr, tlb, rowDisp, indexMask, s1, s2, keepFlags, miss);
        leaIndexed(s1, addr, s2);
        shift(EXT_SHR, s1, 12);
        opLoad(ADD_LOAD, s1, tlb, codeBiasDisp);
        cmpByteImm(s1, 0, 0);
        jcc(CC_NZ, codePage);
        storeSized(size, addr, s2, src);
        if (keepFlags) restoreFlagsFromAx();
    }

    private static void probeChecks(int size, int addr, int tlb, int s1, int s2, boolean keepFlags, int data) {
        if (size != 1 && size != 2 && size != 4 && size != 8) throw new IllegalArgumentException("no access of " + size + " bytes");
        if (addr == tlb || addr == s1 || addr == s2 || tlb == s1 || tlb == s2 || s1 == s2) {
            throw new IllegalArgumentException("address, TLB and scratch registers must differ");
        }
        if (s2 == RSP) throw new IllegalArgumentException("RSP cannot be an index");
        if (keepFlags && (addr == RAX || tlb == RAX || s1 == RAX || s2 == RAX || data == RAX)) {
            throw new IllegalArgumentException("RAX holds the flags while the probe runs");
        }
    }

    /** Index, compare, and on a hit leaves the addend in {@code s2}. */
    private void tlbHit(int size, int addr, int tlb, int rowDisp, int indexMask, int s1, int s2, boolean keepFlags,
                        Label miss) {
        if (indexMask <= 0 || (indexMask & (indexMask + 1)) != 0 || indexMask > 0x7FF_FFFF) {
            throw new IllegalArgumentException("index mask " + indexMask + " is not 2^n - 1");
        }
        if (keepFlags) saveFlagsToAx();
        lea(s1, addr, size - 1);                 // the last byte's page: a crossing access never matches
        shift(EXT_SHR, s1, 12);
        aluRR(MOV, true, s2, addr);
        shift(EXT_SHR, s2, 12 - 4);              // index * 16 = ((addr >>> 12) & mask) << 4
        aluRI(EXT_AND, s2, indexMask << 4);
        opLoad(ADD_LOAD, s2, tlb, rowDisp);      // the entry's address
        opLoad(CMP_LOAD, s1, s2, TLB_PAGE);
        jcc(CC_NZ, miss);
        load(s2, s2, TLB_ADDEND);
    }
    // --- emunstate: the encodings the block translator and the state's entry/exit need ---

    /**
     * Byte registers for {@link #regForm} and {@link #opReg}: 0..15 are the low bytes (AL..R15B; 4..7 are
     * SPL..DIL, which need a REX prefix), and these are the high bytes AH..BH (4..7 without any REX prefix).
     */
    public static final int AH = 20, CH = 21, DH = 22, BH = 23;
    private static final int HIGH = 16;

    /** How an operand of {@link #regForm} is read: a full register, a byte register, or a /digit (no register). */
    public static final int OPERAND = 0, BYTE_OPERAND = 1, DIGIT = 2;

    /**
     * The prefixes of an instruction with register operands: 66 for a 16-bit operand size, then REX when a
     * 64-bit size, an extended register or a low byte register SPL..DIL asks for one. A high byte register
     * (AH..BH) cannot be encoded together with a REX prefix: that is refused, it would name another register.
     */
    private void regPrefixes(int opSize, int regKind, int reg, int rmKind, int rm) {
        boolean high = (regKind == BYTE_OPERAND && reg >= HIGH) || (rmKind == BYTE_OPERAND && rm >= HIGH);
        boolean needRex = opSize == 8 || (regKind != DIGIT && reg < HIGH && reg >= 8) || (rm < HIGH && rm >= 8)
                || (regKind == BYTE_OPERAND && reg >= 4 && reg < 8) || (rmKind == BYTE_OPERAND && rm >= 4 && rm < 8);
        if (high && needRex) throw new IllegalArgumentException("AH..BH cannot be encoded with a REX prefix");
        if (opSize == 2) b(0x66);
        if (needRex) {
            b(0x40 | (opSize == 8 ? 8 : 0) | (regKind != DIGIT && reg < HIGH ? (reg >> 3) & 1 : 0) << 2
                    | (rm < HIGH ? (rm >> 3) & 1 : 0));
        }
    }

    private static int low3(int kind, int r) {
        if (kind == DIGIT) {
            if (r < 0 || r > 7) throw new IllegalArgumentException("no /digit " + r);
            return r;
        }
        if (kind == BYTE_OPERAND ? (r < 0 || r > 23 || (r > 15 && r < AH)) : (r < 0 || r > 15)) {
            throw new IllegalArgumentException("no register " + r);
        }
        return r & 7;
    }

    /**
     * An instruction whose ModRM names two registers (mod = 11): [66] [REX] [0F] opcode ModRM [immediate].
     * {@code opSize} (1, 2, 4 or 8) sets 66 or REX.W; {@code regKind}/{@code rmKind} say whether ModRM.reg and
     * ModRM.rm are full registers, byte registers (numbers as {@link #AH}) or, for reg, a /digit. The
     * immediate's bytes are written as given (the guest's own, for a translated instruction).
     */
    public void regForm(int opSize, boolean twoByte, int opcode, int regKind, int reg, int rmKind, int rm, byte[] imm) {
        if (rmKind == DIGIT) throw new IllegalArgumentException("ModRM.rm is a register here");
        int r3 = low3(regKind, reg), m3 = low3(rmKind, rm);
        regPrefixes(opSize, regKind, reg, rmKind, rm);
        if (twoByte) b(0x0F);
        b(opcode);
        b(0xC0 | r3 << 3 | m3);
        for (byte x : imm) b(x);
    }

    /** An instruction with its register in the opcode's low bits (B0+r, B8+r): [66] [REX] opcode+r immediate. */
    public void opReg(int opSize, boolean byteReg, int opcode, int r, byte[] imm) {
        int kind = byteReg ? BYTE_OPERAND : OPERAND;
        int r3 = low3(kind, r);
        regPrefixes(opSize, DIGIT, 0, kind, r);
        b(opcode | r3);
        for (byte x : imm) b(x);
    }

    /**
     * lea with a 16-, 32- or 64-bit destination from [base + index * 2^scale + disp32] (64-bit addressing),
     * base or index -1 when absent; always a SIB byte and a 32-bit displacement (mod 10 with a base, mod 00 with
     * SIB.base 101 without one). Leaves the flags alone.
     */
    public void leaSib(int opSize, int dst, int base, int index, int scale, int disp) {
        if (opSize != 2 && opSize != 4 && opSize != 8) throw new IllegalArgumentException("lea of " + opSize + " bytes");
        if (index == RSP) throw new IllegalArgumentException("RSP cannot be an index");
        if (scale < 0 || scale > 3) throw new IllegalArgumentException("scale " + scale);
        int d = reg(dst), bs = base < 0 ? RBP : reg(base), ix = index < 0 ? RSP : reg(index);
        if (opSize == 2) b(0x66);
        int rex = 0x40 | (opSize == 8 ? 8 : 0) | ((d >> 3) & 1) << 2 | (index < 0 ? 0 : ((ix >> 3) & 1) << 1)
                | (base < 0 ? 0 : (bs >> 3) & 1);
        if (rex != 0x40) b(rex);
        b(0x8D);
        b((base < 0 ? 0x00 : 0x80) | (d & 7) << 3 | 0x04);
        b(scale << 6 | (ix & 7) << 3 | (bs & 7));
        imm32(disp);
    }

    /** op qword [base + disp32], imm32 (0x81 /ext, sign-extended): {@link #EXT_CMP}, {@link #EXT_SUB} ... */
    public void aluMemImm(int ext, int base, int disp, int imm) {
        rex(true, 0, 0, base, false);
        b(0x81);
        memDisp(ext, base, disp);
        imm32(imm);
    }

    /** op qword [base + disp32], reg64 for the "r/m, reg" opcodes ({@link #ADD}, {@link #SUB}, ...). */
    public void aluMemReg(int opcode, int base, int disp, int src) {
        rex(true, src, 0, base, false);
        b(opcode);
        memDisp(src, base, disp);
    }

    /** popfq (9D). */
    public void popfq() { b(0x9D); }

    // --- emumem: a guest instruction with its memory operand at a host address, and a probe that leaves the addend ---

    /**
     * An instruction whose ModRM names memory at [base + index] (mod 01, SIB, disp8 = 0): [66] [REX] [0F] opcode
     * ModRM SIB 00 [immediate]. As {@link #regForm}, but ModRM.rm is memory: the memory translator runs the
     * guest's own instruction on the host address the soft TLB gave (linear address + addend), so its result and
     * flags are the hardware's. {@code opSize} sets 66 or REX.W (for a byte operation pass 1). A byte register
     * AH..BH in ModRM.reg with a base or index that needs REX is refused.
     */
    public void memForm(int opSize, boolean twoByte, int opcode, int regKind, int reg, int base, int index, byte[] imm) {
        if (index == RSP) throw new IllegalArgumentException("RSP cannot be an index");
        int r3 = low3(regKind, reg), bs = reg(base), ix = reg(index);
        boolean high = regKind == BYTE_OPERAND && reg >= HIGH;
        boolean needRex = opSize == 8 || (regKind != DIGIT && reg < HIGH && reg >= 8) || bs >= 8 || ix >= 8
                || (regKind == BYTE_OPERAND && reg >= 4 && reg < 8);
        if (high && needRex) throw new IllegalArgumentException("AH..BH cannot be encoded with a REX prefix");
        if (opSize == 2) b(0x66);
        if (needRex) {
            b(0x40 | (opSize == 8 ? 8 : 0) | (regKind != DIGIT && reg < HIGH ? (reg >> 3) & 1 : 0) << 2
                    | ((ix >> 3) & 1) << 1 | ((bs >> 3) & 1));
        }
        if (twoByte) b(0x0F);
        b(opcode);
        b(0x44 | r3 << 3);
        b((ix & 7) << 3 | (bs & 7));
        b(0);
        for (byte x : imm) b(x);
    }

    /**
     * The soft-TLB probe without the access: as {@link #tlbLoad} ({@code codeBiasDisp} &lt; 0) or {@link #tlbStore}
     * (the code-mark check, jumping to {@code codePage}), but on a hit it only leaves the addend in {@code s2}, so
     * that the caller runs the guest's instruction itself on [addr + s2] (a read, a store or a read-modify-write).
     * With {@code saveFlags} the flags are saved in AX first (LAHF; SETO AL; RAX is then no operand): they are
     * still there at {@code miss}/{@code codePage} and after a hit; the caller restores them
     * ({@link #restoreFlagsFromAx}) on each path where they are live.
     */
    public void tlbAddend(int size, int addr, int tlb, int rowDisp, int codeBiasDisp, int indexMask, int s1, int s2,
                          boolean saveFlags, Label miss, Label codePage) {
        probeChecks(size, addr, tlb, s1, s2, saveFlags, -1);
        tlbHit(size, addr, tlb, rowDisp, indexMask, s1, s2, saveFlags, miss);
        if (codeBiasDisp >= 0) {
            leaIndexed(s1, addr, s2);
            shift(EXT_SHR, s1, 12);
            opLoad(ADD_LOAD, s1, tlb, codeBiasDisp);
            cmpByteImm(s1, 0, 0);
            jcc(CC_NZ, codePage);
        }
    }

    // --- emuforms: BSWAP, the one arithmetic/logic form of the translator that regForm cannot encode ---

    /** bswap r32 / r64 ([REX] 0F C8+r); the 16-bit form's result is undefined, so it is refused. Flags untouched. */
    public void bswap(int opSize, int r) {
        if (opSize != 4 && opSize != 8) throw new IllegalArgumentException("bswap of " + opSize + " bytes");
        int r3 = low3(OPERAND, r);
        if (opSize == 8 || r >= 8) b(0x40 | (opSize == 8 ? 8 : 0) | ((r >> 3) & 1));
        b(0x0F);
        b(0xC8 | r3);
    }

    // --- emurep: the host's own string instructions ---

    /**
     * rep movs (A4/A5) or rep stos (AA/AB) of {@code size}-byte elements (1, 2, 4, 8) with 64-bit addresses:
     * [66] F3 [REX.W] opcode. The host copies or fills RCX elements from [RSI] to [RDI] (from AL/AX/EAX/RAX for
     * stos) forward (the ABI keeps the host's DF clear), with the architectural element-by-element result when
     * the two ranges overlap. Flags untouched.
     */
    public void repString(boolean movs, int size) {
        if (size != 1 && size != 2 && size != 4 && size != 8) throw new IllegalArgumentException("no element of " + size + " bytes");
        if (size == 2) b(0x66);
        b(0xF3);
        if (size == 8) b(0x48);
        b((movs ? 0xA4 : 0xAA) | (size == 1 ? 0 : 1));
    }

    // --- emukforms: the LOCK prefix, CBW/CWD and their wider forms, the fences ---

    /** The LOCK prefix (F0) for the instruction emitted next: the host makes its memory update atomic. */
    public void lockPrefix() { b(0xF0); }

    /**
     * CBW/CWDE/CDQE ({@code opcode} 98) or CWD/CDQ/CQO (99) at {@code opSize} 2, 4 or 8: [66 | REX.W] opcode, on
     * host RAX (and RDX). Flags untouched.
     */
    public void accumulatorExtend(int opcode, int opSize) {
        if (opcode != 0x98 && opcode != 0x99) throw new IllegalArgumentException("not CBW/CWD: " + opcode);
        if (opSize != 2 && opSize != 4 && opSize != 8) throw new IllegalArgumentException("size " + opSize);
        if (opSize == 2) b(0x66);
        if (opSize == 8) b(0x48);
        b(opcode);
    }

    /** LFENCE (0F AE /5), MFENCE (/6) or SFENCE (/7), register form (mod 11, rm 0). Flags untouched. */
    public void fence(int digit) {
        if (digit < 5 || digit > 7) throw new IllegalArgumentException("no fence /" + digit);
        b(0x0F);
        b(0xAE);
        b(0xC0 | digit << 3);
    }
}
