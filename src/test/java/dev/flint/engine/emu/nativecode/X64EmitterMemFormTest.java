package dev.flint.engine.emu.nativecode;

import org.junit.jupiter.api.Test;

import java.util.HexFormat;

import static dev.flint.engine.emu.nativecode.X64Emitter.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** {@link X64Emitter#memForm} (emumem) against bytes derived by hand from the SDM's REX/ModRM/SIB layout. */
class X64EmitterMemFormTest {
    private static String hex(java.util.function.Consumer<X64Emitter> c) {
        X64Emitter e = new X64Emitter();
        c.accept(e);
        return HexFormat.of().formatHex(e.bytes());
    }

    @Test
    void guestInstructionsWithTheirMemoryOperandAtBasePlusIndex() {
        // add [rcx+rdx], eax: 01, ModRM 01 000 100 = 44, SIB 00 010 001 = 11, disp8 00
        assertEquals("01441100", hex(e -> e.memForm(4, false, 0x01, OPERAND, RAX, RCX, RDX, new byte[0])));
        // mov r9, [r13+r10]: REX 0100 W1 R1 X1 B1 = 4f, 8b, ModRM 01 001 100 = 4c, SIB 00 010 101 = 15, 00
        assertEquals("4f8b4c1500", hex(e -> e.memForm(8, false, 0x8B, OPERAND, R9, R13, R10, new byte[0])));
        // cmp byte [rbx+rsi], 12h: 80, ModRM 01 111 100 = 7c, SIB 00 110 011 = 33, 00, ib 12
        assertEquals("807c330012", hex(e -> e.memForm(1, false, 0x80, DIGIT, 7, RBX, RSI, new byte[] {0x12})));
        // movzx dx, byte [rcx+rsi]: 66 0f b6, ModRM 01 010 100 = 54, SIB 00 110 001 = 31, 00
        assertEquals("660fb6543100", hex(e -> e.memForm(2, true, 0xB6, OPERAND, RDX, RCX, RSI, new byte[0])));
        // mov [rcx+rdx], sil: an empty REX (40) makes ModRM.reg 110 SIL, not DH: 40 88, ModRM 01 110 100 = 74
        assertEquals("4088741100", hex(e -> e.memForm(1, false, 0x88, BYTE_OPERAND, RSI, RCX, RDX, new byte[0])));
        // mov [rcx+rdx], ah: no REX, ModRM.reg 100 = AH: 88, ModRM 01 100 100 = 64
        assertEquals("88641100", hex(e -> e.memForm(1, false, 0x88, BYTE_OPERAND, AH, RCX, RDX, new byte[0])));
    }

    @Test
    void refusesWhatItCannotEncode() {
        X64Emitter e = new X64Emitter();
        assertThrows(IllegalArgumentException.class, () -> e.memForm(1, false, 0x88, BYTE_OPERAND, AH, R8, RDX, new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> e.memForm(4, false, 0x8B, OPERAND, RAX, RCX, RSP, new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> e.tlbAddend(4, RAX, RCX, 0, -1, 1023, RDX, RBX, true,
                new Label(), new Label()));
    }
}
