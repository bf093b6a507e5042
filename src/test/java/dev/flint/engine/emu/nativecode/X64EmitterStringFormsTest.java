package dev.flint.engine.emu.nativecode;

import org.junit.jupiter.api.Test;

import java.util.HexFormat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * {@link X64Emitter#repString} against bytes derived by hand from the SDM's opcode table: REP is F3, the operand
 * size 66 (16 bits) or REX.W (48, 64 bits, right before the opcode); MOVSB A4, MOVSW/D/Q A5, STOSB AA, STOSW/D/Q AB.
 */
class X64EmitterStringFormsTest {
    private static String bytes(boolean movs, int size) {
        X64Emitter e = new X64Emitter();
        e.repString(movs, size);
        return HexFormat.of().formatHex(e.bytes());
    }

    @Test
    void repMovsAndStosAtEverySize() {
        assertEquals("f3a4", bytes(true, 1));
        assertEquals("66f3a5", bytes(true, 2));
        assertEquals("f3a5", bytes(true, 4));
        assertEquals("f348a5", bytes(true, 8));
        assertEquals("f3aa", bytes(false, 1));
        assertEquals("66f3ab", bytes(false, 2));
        assertEquals("f3ab", bytes(false, 4));
        assertEquals("f348ab", bytes(false, 8));
    }

    @Test
    void otherElementSizesAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new X64Emitter().repString(true, 3));
        assertThrows(IllegalArgumentException.class, () -> new X64Emitter().repString(false, 16));
    }
}
