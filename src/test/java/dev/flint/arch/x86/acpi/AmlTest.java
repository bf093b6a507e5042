package dev.flint.arch.x86.acpi;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class AmlTest {
    @Test
    void pkgLengthUsesOneToFourBytesCountingItself() {
        assertArrayEquals(new byte[] {0x3F}, Aml.pkgLength(0x3E));
        // 0x40 body + 2 length bytes = 0x42: lead 0x40 | low nibble 2, then 0x42 >> 4.
        assertArrayEquals(new byte[] {0x42, 0x04}, Aml.pkgLength(0x40));
        byte[] three = Aml.pkgLength(0x1000);
        assertEquals(3, three.length);
        assertEquals(0x1003, (three[0] & 0xF) | (three[1] & 0xFF) << 4 | (three[2] & 0xFF) << 12);
    }

    @Test
    void integersUseTheShortestEncoding() {
        assertArrayEquals(new byte[] {0}, Aml.integer(0));
        assertArrayEquals(new byte[] {1}, Aml.integer(1));
        assertArrayEquals(new byte[] {0x0A, 5}, Aml.integer(5));
        assertArrayEquals(new byte[] {0x0B, 0x00, 0x01}, Aml.integer(0x100));
        assertArrayEquals(new byte[] {0x0C, 0, 0, 0, 1}, Aml.integer(0x0100_0000));
        assertEquals(9, Aml.integer(0x1_0000_0000L).length);
    }

    @Test
    void eisaIdIsCompressedAndByteSwapped() {
        assertArrayEquals(new byte[] {0x0C, 0x41, (byte) 0xD0, 0x0A, 0x03}, Aml.eisaId("PNP0A03"));
    }

    @Test
    void namePathsArePaddedAndPrefixed() {
        assertArrayEquals("_S5_".getBytes(), Aml.nameString("_S5"));
        assertArrayEquals(new byte[] {0x5C, 0x2E, '_', 'S', 'B', '_', 'P', 'C', 'I', '0'}, Aml.nameString("\\_SB.PCI0"));
        assertThrows(IllegalArgumentException.class, () -> Aml.nameString("toolong"));
    }
}
