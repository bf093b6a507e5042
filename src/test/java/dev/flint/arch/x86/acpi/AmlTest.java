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

    private static byte[] b(int... v) {
        byte[] out = new byte[v.length];
        for (int i = 0; i < v.length; i++) out[i] = (byte) v[i];
        return out;
    }

    @Test
    void localsAndArgsAreOneByteOpcodes() {
        assertArrayEquals(b(0x60), Aml.local(0));
        assertArrayEquals(b(0x67), Aml.local(7));
        assertArrayEquals(b(0x68), Aml.arg(0));
        assertThrows(IllegalArgumentException.class, () -> Aml.local(8));
        assertThrows(IllegalArgumentException.class, () -> Aml.arg(7));
    }

    @Test
    void storeIsSourceThenTarget() {
        // Store(PCIU, Local0): StoreOp 0x70, the name, Local0Op.
        assertArrayEquals(b(0x70, 'P', 'C', 'I', 'U', 0x60), Aml.store(Aml.ref("PCIU"), Aml.local(0)));
    }

    @Test
    void andWithoutTargetEndsInTheNullName() {
        // And(Local0, 0x04) with no target: AndOp 0x7B, operands, NullName 0x00.
        assertArrayEquals(b(0x7B, 0x60, 0x0A, 0x04, 0x00), Aml.and(Aml.local(0), Aml.integer(4)));
    }

    @Test
    void ifCarriesItsPredicateAndTermsInOnePackage() {
        byte[] notify = Aml.notify("S01", Aml.DEVICE_CHECK);
        // NotifyOp 0x86, the object's name, the value (One).
        assertArrayEquals(b(0x86, 'S', '0', '1', '_', 0x01), notify);
        byte[] pred = Aml.and(Aml.local(0), Aml.integer(2));
        byte[] cond = Aml.ifThen(pred, notify);
        // IfOp 0xA0, PkgLength (1 + 5 + 6 = 12), predicate, terms.
        assertEquals(0xA0, cond[0] & 0xFF);
        assertEquals(1 + pred.length + notify.length, cond[1]);
        assertArrayEquals(b(0x86, 'S', '0', '1', '_', 0x0A, 0x03), Aml.notify("S01", Aml.EJECT_REQUEST));
    }

    @Test
    void operationRegionNamesSpaceOffsetAndLength() {
        // OperationRegion(PHPR, SystemIO, 0xAE00, 12): ExtOpPrefix 0x5B, OpRegionOp 0x80, name, space 1, offset, length.
        assertArrayEquals(b(0x5B, 0x80, 'P', 'H', 'P', 'R', 0x01, 0x0B, 0x00, 0xAE, 0x0A, 12),
                Aml.operationRegion("PHPR", Aml.SYSTEM_IO, 0xAE00, 12));
    }

    @Test
    void fieldListsUnitsWithTheirBitWidths() {
        // Field(PHPR, DWordAcc, NoLock, WriteAsZeros) { PCIU, 32, PCID, 32 }: 0x5B 0x81 PkgLength, region, flags
        // (access 3 | update 2 << 5 = 0x43), then each unit as NameSeg and its width in PkgLength form.
        byte[] f = Aml.field("PHPR", Aml.DWORD_ACCESS, Aml.WRITE_AS_ZEROS, Aml.fieldUnit("PCIU", 32), Aml.fieldUnit("PCID", 32));
        assertArrayEquals(b(0x5B, 0x81, 16, 'P', 'H', 'P', 'R', 0x43, 'P', 'C', 'I', 'U', 32, 'P', 'C', 'I', 'D', 32), f);
        // A width over 63 bits takes two bytes and does not count itself.
        assertArrayEquals(b(0x40, 0x04), Aml.encodedLength(64));
    }

    @Test
    void methodInvocationIsTheNameAndItsArguments() {
        assertArrayEquals(b(0x5C, 0x2F, 3, '_', 'S', 'B', '_', 'P', 'C', 'I', '0', 'P', 'S', 'C', 'N'),
                Aml.call("\\_SB.PCI0.PSCN"));
    }

    @Test
    void methodCountsArgumentsInItsFlags() {
        // Method(_EJ0, 1) { Store(2, PCEJ) }: MethodOp 0x14, PkgLength, name, flags (1 argument, not serialized), body.
        byte[] m = Aml.method("_EJ0", 1, Aml.store(Aml.integer(2), Aml.ref("PCEJ")));
        assertArrayEquals(b(0x14, 13, '_', 'E', 'J', '0', 0x01, 0x70, 0x0A, 0x02, 'P', 'C', 'E', 'J'), m);
    }

    @Test
    void extendedInterruptDescriptorIsALevelTriggeredConsumer() {
        // 0x89, length 6, flags consumer only (level-triggered, active high, exclusive), one interrupt, GSI 5.
        assertArrayEquals(b(0x89, 6, 0, 0x01, 1, 5, 0, 0, 0), Resources.levelInterrupt(5));
    }
}
