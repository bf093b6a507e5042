package dev.flint.engine.emu.mmu;

import dev.flint.engine.emu.cpu.CpuState;
import dev.flint.machine.DirtyPages;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.bus.Bus;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * With dirty page tracking on, every way a vCPU of the emu engine stores to RAM (a plain store, a locked
 * swap, a store that straddles two pages) marks exactly the pages it wrote in the machine's log, which a
 * Diff snapshot then writes out; reads mark nothing.
 */
class DirtyPageLogTest {
    private static List<Integer> dirty(DirtyPages log) {
        List<Integer> pages = new ArrayList<>();
        for (int p = 0; p < log.pages(); p++) if (log.isDirty(p)) pages.add(p);
        return pages;
    }

    @Test
    void everyVcpuStoreMarksItsPages() {
        try (GuestMemory memory = GuestMemory.allocate(1 << 20)) {
            DirtyPages log = memory.trackDirtyPages();
            Mmu mmu = new Mmu(new CpuState(), new PhysicalMemory(memory, new Bus("mmio"), null));
            mmu.read(0x7000, 8);
            mmu.read(0x8FFE, 4);
            assertEquals(List.of(), dirty(log), "reads mark nothing");

            mmu.write(0x5010, 4, 0x90909090L);
            mmu.compareAndSwap(0x9020, 8, 0, 1);
            mmu.write(0xBFFE, 4, -1L); // two bytes on page 0xB, two on 0xC
            assertEquals(List.of(5, 9, 0xB, 0xC), dirty(log));

            log.clear();
            assertEquals(List.of(), dirty(log), "a snapshot starts the next interval");
            mmu.compareAndSwap(0x9020, 8, 12345, 2); // a failed swap writes nothing
            assertEquals(List.of(), dirty(log));
            mmu.write(0x20000, 1, 7);
            assertEquals(List.of(0x20), dirty(log));
        }
    }

    @Test
    void withoutTrackingNothingIsLogged() {
        try (GuestMemory memory = GuestMemory.allocate(1 << 20)) {
            Mmu mmu = new Mmu(new CpuState(), new PhysicalMemory(memory, new Bus("mmio"), null));
            mmu.write(0x5010, 4, 1);
            assertNull(memory.dirtyPages());
        }
    }
}
