package dev.flint.engine.emu.nativecode;

import org.junit.jupiter.api.Test;

import java.util.HexFormat;

import static dev.flint.engine.emu.nativecode.X64Emitter.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The encodings the emuforms translator forms use, against bytes derived by hand from the SDM (BSWAP: 0F C8+rd,
 * REX.W for 64 bits, REX.B for R8..R15; the shifts and the others go through {@link X64Emitter#regForm}).
 */
class X64EmitterAluFormsTest {
    private static String hex(java.util.function.Consumer<X64Emitter> c) {
        X64Emitter e = new X64Emitter();
        c.accept(e);
        return HexFormat.of().formatHex(e.bytes());
    }

    @Test
    void bswapAndTheShiftFormsThroughRegForm() {
        assertEquals("0fc8", hex(e -> e.bswap(4, RAX)));          // bswap eax: 0f c8+0
        assertEquals("0fce", hex(e -> e.bswap(4, RSI)));          // bswap esi: 0f c8+6
        assertEquals("480fcb", hex(e -> e.bswap(8, RBX)));        // bswap rbx: REX.W 48, 0f c8+3
        assertEquals("410fcc", hex(e -> e.bswap(4, R12)));        // bswap r12d: REX.B 41, 0f c8+4
        assertEquals("490fc9", hex(e -> e.bswap(8, R9)));         // bswap r9: REX.W+B 49, 0f c8+1
        // ror r9d, 0dh: REX.B 41, c1, ModRM 11 001 001 = c9, ib 0d
        assertEquals("41c1c90d", hex(e -> e.regForm(4, false, 0xC1, DIGIT, 1, OPERAND, R9, new byte[] {0x0D})));
        // sar ah, cl: d2, ModRM 11 111 100 = fc (rm 100 without REX is AH)
        assertEquals("d2fc", hex(e -> e.regForm(1, false, 0xD2, DIGIT, 7, BYTE_OPERAND, AH, new byte[0])));
        // shld rax, rdx, cl: REX.W 48, 0f a5, ModRM 11 010 000 = d0
        assertEquals("480fa5d0", hex(e -> e.regForm(8, true, 0xA5, OPERAND, RDX, OPERAND, RAX, new byte[0])));
        // setnz sil: an empty REX 40 (SIL, not DH), 0f 95, ModRM 11 000 110 = c6
        assertEquals("400f95c6", hex(e -> e.regForm(1, true, 0x95, DIGIT, 0, BYTE_OPERAND, RSI, new byte[0])));
    }

    @Test
    void bswapOf16BitsIsRefused() {
        X64Emitter e = new X64Emitter();
        assertThrows(IllegalArgumentException.class, () -> e.bswap(2, RAX)); // undefined result
        assertThrows(IllegalArgumentException.class, () -> e.bswap(4, 16));
    }
}
