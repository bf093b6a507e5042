package dev.flint.engine.emu.mmu;

import dev.flint.machine.GuestMemory;
import dev.flint.machine.bus.Bus;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The code-page tracker that lets decoded blocks skip comparing their bytes: every way something can
 * write guest RAM (a vCPU store, a locked swap, a device through {@link GuestMemory}) changes the version of
 * a page holding decoded code, and writes elsewhere change nothing.
 */
class CodePagesTest {
    private static final long CODE = 0x5000, DATA = 0x9000;

    @Test
    void everyWriterChangesTheVersionOfACodePage() {
        try (GuestMemory memory = GuestMemory.allocate(1 << 20)) {
            CodePages pages = CodePages.of(memory);
            assertSame(pages, CodePages.of(memory), "one tracker per machine, shared by its vCPUs");
            Mmu mmu = new Mmu(new dev.flint.engine.emu.cpu.CpuState(), new PhysicalMemory(memory, new Bus("mmio"), null));

            java.util.List<Runnable> writers = java.util.List.of(
                    () -> mmu.write(CODE + 0x10, 4, 0x90909090L),
                    () -> mmu.compareAndSwap(CODE + 0x20, 8, 0, 1),
                    () -> memory.writeInt(CODE + 0x30, 7),
                    () -> memory.write(CODE + 0xFFE, new byte[] {1, 2, 3}), // runs on into the next page
                    () -> memory.slice(CODE + 0x40, 16).fill((byte) 0xCC));
            for (Runnable writer : writers) {
                int before = pages.markCode(CODE);
                int dataBefore = pages.markCode(DATA);
                mmu.clearCodeStored();
                writer.run();
                assertNotEquals(before, pages.version(CODE));
                assertEquals(dataBefore, pages.version(DATA), "a write elsewhere leaves other code pages alone");
            }
            // The vCPU that stored learns it (its running block ends); a page without code costs nothing.
            pages.markCode(CODE);
            mmu.clearCodeStored();
            mmu.write(CODE + 8, 1, 0);
            assertTrue(mmu.codeStored());
            mmu.clearCodeStored();
            int data = pages.version(0xA000);
            mmu.write(0xA000, 8, 1);
            assertFalse(mmu.codeStored());
            assertEquals(data, pages.version(0xA000));
        }
    }
}
