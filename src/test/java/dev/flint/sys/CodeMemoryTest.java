package dev.flint.sys;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class CodeMemoryTest {
    @Test
    void bothViewsShareTheirPages() {
        try (CodeMemory m = CodeMemory.create("flint-test-code", 8192)) {
            MemorySegment executable = MemorySegment.ofAddress(m.executableAddress()).reinterpret(m.size());
            assertNotEquals(m.writable().address(), m.executableAddress(), "two mappings, not one");
            assertEquals(0, executable.get(JAVA_LONG, 4096), "fresh memory reads as zeroes");
            m.writable().set(JAVA_LONG, 4096, 0x1122_3344_5566_7788L);
            assertEquals(0x1122_3344_5566_7788L, executable.get(JAVA_LONG, 4096), "written through one view, seen through the other");
        }
    }

    @Test
    void sizesMustBeWholePages() {
        assertThrows(IllegalArgumentException.class, () -> CodeMemory.create("x", 100));
        assertThrows(IllegalArgumentException.class, () -> CodeMemory.create("x", 0));
    }

    @Test
    void closingInvalidatesTheWritableView() {
        CodeMemory m = CodeMemory.create("flint-test-code", 4096);
        MemorySegment w = m.writable();
        m.close();
        assertThrows(IllegalStateException.class, () -> w.set(JAVA_LONG, 0, 1));
        m.close();
    }
}
