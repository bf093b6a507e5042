package dev.flint.sys;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class MappedMemoryTest {
    /** KVM maps guest RAM with 2 MiB pages only if its host address is 2 MiB-aligned (as it is with QEMU). */
    @Test
    void anonymousMemoryIsAlignedToALargePageAndWholeAndZeroed() {
        for (long length : new long[] {4096, (2L << 20) + 4096, 64L << 20}) {
            try (MappedMemory m = MappedMemory.anonymous(length)) {
                assertEquals(0, m.segment().address() % MappedMemory.LARGE_PAGE, "address of a " + length + "-byte mapping");
                assertEquals(length, m.segment().byteSize());
                assertEquals(0, m.segment().get(JAVA_BYTE, length - 1));
                m.segment().set(JAVA_BYTE, 0, (byte) 1);
                m.segment().set(JAVA_BYTE, length - 1, (byte) 2);
                assertEquals(2, m.segment().get(JAVA_BYTE, length - 1));
            }
        }
    }
}
