package dev.flint.engine.emu.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The few x86-64 encodings {@link NativeTierSpike} writes, and nothing else: 64- and 32-bit register moves and
 * ALU forms, loads and stores at [base + disp32] and [base + index], immediates, push/pop, near jumps with
 * labels (rel32, patched when the label is bound), LAHF/SETO/SAHF to keep the guest's flags across a check.
 * Registers are the hardware numbers (0 = rax ... 15 = r15). Written from the Intel SDM's opcode tables.
 */
final class X64Emitter {
    static final int RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7,
            R8 = 8, R9 = 9, R10 = 10, R11 = 11, R12 = 12, R13 = 13, R14 = 14, R15 = 15;
    /** Opcodes of the "op r/m, reg" forms. */
    static final int ADD = 0x01, AND = 0x21, SUB = 0x29, XOR = 0x31, CMP = 0x39, MOV = 0x89;
    /** The /digit of group 1 (0x81 imm32). */
    static final int EXT_ADD = 0, EXT_AND = 4, EXT_SUB = 5, EXT_CMP = 7, EXT_SHL = 4, EXT_SHR = 5;
    /** Condition codes for jcc. */
    static final int CC_O = 0, CC_B = 2, CC_Z = 4, CC_NZ = 5, CC_A = 7, CC_L = 0xC;

    /** A jump target: its position once bound, and the rel32 fields waiting for it. */
    static final class Label {
        int at = -1;
        final List<Integer> fixups = new ArrayList<>();
    }

    private byte[] out = new byte[1024];
    private int size;

    int position() { return size; }

    byte[] bytes() {
        return Arrays.copyOf(out, size);
    }

    private void b(int v) {
        if (size == out.length) out = Arrays.copyOf(out, 2 * size);
        out[size++] = (byte) v;
    }

    private void imm32(long v) { for (int i = 0; i < 4; i++) b((int) (v >>> (8 * i))); }

    /** REX prefix when any part needs it (64-bit size, an extended register, or a byte form of sil/dil/bpl/spl). */
    private void rex(boolean w, int reg, int index, int base, boolean force) {
        int r = 0x40 | (w ? 8 : 0) | ((reg >> 3) & 1) << 2 | ((index >> 3) & 1) << 1 | ((base >> 3) & 1);
        if (r != 0x40 || force) b(r);
    }

    /** op r/m, reg with both registers (64-bit when {@code w}). */
    void aluRR(int opcode, boolean w, int dst, int src) {
        rex(w, src, 0, dst, false);
        b(opcode);
        b(0xC0 | (src & 7) << 3 | (dst & 7));
    }

    /** 0x81 /ext imm32 on a 64-bit register. */
    void aluRI(int ext, int dst, int imm) {
        rex(true, 0, 0, dst, false);
        b(0x81);
        b(0xC0 | ext << 3 | (dst & 7));
        imm32(imm);
    }

    /** ModRM (mod = 10, disp32) and SIB when the base is rsp or r12. */
    private void memDisp(int reg, int base, int disp) {
        b(0x80 | (reg & 7) << 3 | (base & 7));
        if ((base & 7) == RSP) b(0x24);
        imm32(disp);
    }

    /** ModRM (mod = 01, disp8 = 0) and SIB for [base + index]: mod 01 also covers rbp/r13 as base. */
    private void memIndex(int reg, int base, int index) {
        if (index == RSP) throw new IllegalArgumentException("rsp is no index");
        b(0x44 | (reg & 7) << 3);
        b((index & 7) << 3 | (base & 7));
        b(0);
    }

    /** mov reg64, [base + disp]. */
    void load(int dst, int base, int disp) {
        rex(true, dst, 0, base, false);
        b(0x8B);
        memDisp(dst, base, disp);
    }

    /** mov [base + disp], reg64. */
    void store(int base, int disp, int src) {
        rex(true, src, 0, base, false);
        b(0x89);
        memDisp(src, base, disp);
    }

    /** mov reg64, [base + index]. */
    void loadIndexed(int dst, int base, int index) {
        rex(true, dst, index, base, false);
        b(0x8B);
        memIndex(dst, base, index);
    }

    /** mov [base + index], reg64. */
    void storeIndexed(int base, int index, int src) {
        rex(true, src, index, base, false);
        b(0x89);
        memIndex(src, base, index);
    }

    /** op reg64, [base + index + disp] for MOV (0x8B), ADD (0x03), CMP (0x3B): the "reg, r/m" forms. */
    void opIndexedDisp(int opcode, int reg, int base, int index, int disp) {
        if (index == RSP) throw new IllegalArgumentException("rsp is no index");
        rex(true, reg, index, base, false);
        b(opcode);
        b(0x84 | (reg & 7) << 3);
        b((index & 7) << 3 | (base & 7));
        imm32(disp);
    }

    /** mov qword [base + disp], imm32 (sign-extended). */
    void storeImm32(int base, int disp, int imm) {
        rex(true, 0, 0, base, false);
        b(0xC7);
        memDisp(0, base, disp);
        imm32(imm);
    }

    /** shr reg64, imm8 (ext 5) or shl reg64, imm8 (ext 4). */
    void shift(int ext, int r, int count) {
        rex(true, 0, 0, r, false);
        b(0xC1);
        b(0xC0 | ext << 3 | (r & 7));
        b(count);
    }

    /** lea reg64, [base + disp] (leaves the flags alone). */
    void lea(int dst, int base, int disp) {
        rex(true, dst, 0, base, false);
        b(0x8D);
        memDisp(dst, base, disp);
    }

    /** mov reg32, imm32 (zero-extends; leaves the flags alone). */
    void movImm32(int dst, int imm) {
        rex(false, 0, 0, dst, false);
        b(0xB8 | (dst & 7));
        imm32(imm);
    }

    /** dec reg32. */
    void dec32(int r) {
        rex(false, 0, 0, r, false);
        b(0xFF);
        b(0xC8 | (r & 7));
    }

    /** test reg8, imm8 (low byte; sil/dil/bpl/spl need a bare REX). */
    void testByte(int r, int imm) {
        rex(false, 0, 0, r, r >= 4 && r < 8);
        b(0xF6);
        b(0xC0 | (r & 7));
        b(imm);
    }

    void push(int r) { rex(false, 0, 0, r, false); b(0x50 | (r & 7)); }

    void pop(int r) { rex(false, 0, 0, r, false); b(0x58 | (r & 7)); }

    void ret() { b(0xC3); }

    void pushfq() { b(0x9C); }

    /** lea reg64, [rip + label]. */
    void leaRip(int dst, Label l) {
        rex(true, dst, 0, 0, false);
        b(0x8D);
        b(0x05 | (dst & 7) << 3);
        rel(l);
    }

    /** jmp qword [base + disp]. */
    void jmpMem(int base, int disp) {
        rex(false, 0, 0, base, false);
        b(0xFF);
        memDisp(4, base, disp);
    }

    /** jmp reg64. */
    void jmpReg(int r) { rex(false, 0, 0, r, false); b(0xFF); b(0xE0 | (r & 7)); }

    /** lahf; seto al: the six arithmetic flags into ax (the caller keeps rax free). */
    void saveFlagsToAx() { b(0x9F); b(0x0F); b(0x90); b(0xC0); }

    /** add al, 0x7f; sahf: OF back from al's 0/1, then SF ZF AF PF CF from ah. */
    void restoreFlagsFromAx() { b(0x04); b(0x7F); b(0x9E); }

    /** popfq from a register's value: push reg; popfq. */
    void popfqFrom(int r) { push(r); b(0x9D); }

    void jmp(Label l) { b(0xE9); rel(l); }

    void jcc(int cc, Label l) { b(0x0F); b(0x80 | cc); rel(l); }

    private void rel(Label l) {
        if (l.at >= 0) {
            imm32(l.at - (position() + 4));
        } else {
            l.fixups.add(position());
            imm32(0);
        }
    }

    void bind(Label l) {
        l.at = position();
        for (int f : l.fixups) {
            int rel = l.at - (f + 4);
            for (int i = 0; i < 4; i++) out[f + i] = (byte) (rel >>> (8 * i));
        }
        l.fixups.clear();
    }
}
