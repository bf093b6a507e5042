package dev.flint.engine.emu.nativecode;

import org.junit.jupiter.api.Test;

import java.util.HexFormat;
import java.util.function.Consumer;

import static dev.flint.engine.emu.nativecode.X64Emitter.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The encodings the block translator and {@link BlockFrame} use (the emunstate block of {@link X64Emitter}),
 * against bytes derived by hand from the SDM's prefix, REX, ModRM and SIB layouts (derivation on each line).
 */
class X64EmitterTranslatorFormsTest {
    private static String hex(Consumer<X64Emitter> c) {
        X64Emitter e = new X64Emitter();
        c.accept(e);
        return HexFormat.ofDelimiter(" ").formatHex(e.bytes());
    }

    private static final byte[] NO_IMM = {};

    @Test
    void registerForms() {
        // add rbx, rcx: REX.W 48, 01 /r, ModRM 11 001 011
        assertEquals("48 01 cb", hex(e -> e.regForm(8, false, ADD, OPERAND, RCX, OPERAND, RBX, NO_IMM)));
        // add cl, ah: 00 /r, ModRM 11 100(AH) 001, no REX (AH exists only without one)
        assertEquals("00 e1", hex(e -> e.regForm(1, false, 0x00, BYTE_OPERAND, AH, BYTE_OPERAND, RCX, NO_IMM)));
        // add al, sil: an empty REX (40) makes 110 SIL instead of DH; ModRM 11 110 000
        assertEquals("40 00 f0", hex(e -> e.regForm(1, false, 0x00, BYTE_OPERAND, RSI, BYTE_OPERAND, RAX, NO_IMM)));
        // cmp r9w, 0x1234: 66, REX.B 41, 81 /7 iw, ModRM 11 111 001
        assertEquals("66 41 81 f9 34 12", hex(e -> e.regForm(2, false, 0x81, DIGIT, 7, OPERAND, R9,
                new byte[] {0x34, 0x12})));
        // movzx r10, dil: REX.W+R 4c, 0f b6 /r, ModRM 11 010 111
        assertEquals("4c 0f b6 d7", hex(e -> e.regForm(8, true, 0xB6, OPERAND, R10, BYTE_OPERAND, RDI, NO_IMM)));
        // dec bh: fe /1, ModRM 11 001 111
        assertEquals("fe cf", hex(e -> e.regForm(1, false, 0xFE, DIGIT, 1, BYTE_OPERAND, BH, NO_IMM)));
    }

    @Test
    void highByteRegistersAreRefusedWhereARexPrefixIsNeeded() {
        X64Emitter e = new X64Emitter();
        assertThrows(IllegalArgumentException.class, () -> e.regForm(1, false, 0x00, BYTE_OPERAND, AH, BYTE_OPERAND, R8, NO_IMM));
        assertThrows(IllegalArgumentException.class, () -> e.regForm(1, false, 0x00, BYTE_OPERAND, CH, BYTE_OPERAND, RSI, NO_IMM));
        assertThrows(IllegalArgumentException.class, () -> e.regForm(4, false, 0x01, OPERAND, 16, OPERAND, RAX, NO_IMM));
        assertEquals(0, e.position(), "nothing written");
    }

    @Test
    void registerInTheOpcode() {
        // mov r12, imm64: REX.W+B 49, b8+4
        assertEquals("49 bc 08 07 06 05 04 03 02 01", hex(e -> e.opReg(8, false, 0xB8, R12,
                new byte[] {8, 7, 6, 5, 4, 3, 2, 1})));
        // mov bh, 0x7f: b0+7 without REX
        assertEquals("b7 7f", hex(e -> e.opReg(1, true, 0xB0, BH, new byte[] {0x7F})));
        // mov spl, 1: 40 b0+4 (SPL needs the empty REX)
        assertEquals("40 b4 01", hex(e -> e.opReg(1, true, 0xB0, RSP, new byte[] {1})));
        // mov dx, 0x1234: 66 b8+2 iw
        assertEquals("66 ba 34 12", hex(e -> e.opReg(2, false, 0xB8, RDX, new byte[] {0x34, 0x12})));
    }

    @Test
    void leaWithEveryShape() {
        // lea eax, [rbx + rcx*4 + 0x10]: 8d, ModRM 10 000 100, SIB 10 001 011, disp32
        assertEquals("8d 84 8b 10 00 00 00", hex(e -> e.leaSib(4, RAX, RBX, RCX, 2, 0x10)));
        // lea r13, [r12*8 - 8]: REX.W+R+X 4e, ModRM 00 101 100, SIB 11 100 101 (no base: disp32)
        assertEquals("4e 8d 2c e5 f8 ff ff ff", hex(e -> e.leaSib(8, R13, -1, R12, 3, -8)));
        // lea dx, [r13]: 66, REX.B 41, ModRM 10 010 100, SIB 00 100(no index) 101, disp32 0
        assertEquals("66 41 8d 94 25 00 00 00 00", hex(e -> e.leaSib(2, RDX, R13, -1, 0, 0)));
        assertThrows(IllegalArgumentException.class, () -> new X64Emitter().leaSib(8, RAX, RBX, RSP, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new X64Emitter().leaSib(1, RAX, RBX, -1, 0, 0));
    }

    @Test
    void stateFieldForms() {
        // cmp qword [r15 + 0xa0], 5: REX.W+B 49, 81 /7, ModRM 10 111 111, disp32, imm32
        assertEquals("49 81 bf a0 00 00 00 05 00 00 00", hex(e -> e.aluMemImm(EXT_CMP, R15, 0xA0, 5)));
        // sub [r15 + 0xa0], rax: 49 29 /r, ModRM 10 000 111
        assertEquals("49 29 87 a0 00 00 00", hex(e -> e.aluMemReg(SUB, R15, 0xA0, RAX)));
        assertEquals("9d", hex(X64Emitter::popfq));
    }
}
