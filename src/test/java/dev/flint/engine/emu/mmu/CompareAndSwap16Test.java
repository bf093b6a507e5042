package dev.flint.engine.emu.mmu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.engine.emu.cpu.CpuState;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.bus.Bus;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/**
 * CMPXCHG16B's memory side: the comparison and both halves, and no lost update when vCPUs race it
 * against each other and against 8-byte locked operations on one half.
 */
class CompareAndSwap16Test {
    private static final long ADDR = 0x1000;

    @Test
    void swapsOnlyWhenBothHalvesMatch() {
        try (GuestMemory memory = GuestMemory.allocate(1L << 20)) {
            Mmu mmu = mmu(memory);
            memory.writeLong(ADDR, 5);
            memory.writeLong(ADDR + 8, 7);
            long[] seen = new long[2];
            assertFalse(mmu.compareAndSwap16(ADDR, 5, 8, 1, 2, seen), "high half differs");
            assertEquals(5, seen[0]);
            assertEquals(7, seen[1]);
            assertEquals(5, memory.readLong(ADDR));
            assertTrue(mmu.compareAndSwap16(ADDR, 5, 7, 1, 2, seen));
            assertEquals(1, memory.readLong(ADDR));
            assertEquals(2, memory.readLong(ADDR + 8));
        }
    }

    /**
     * Two "vCPUs" increment both halves with 16-byte CAS loops while a third increments the low half
     * with 8-byte CASes (a LOCK ADD): every increment must survive.
     */
    @Test
    void concurrentUpdatesAreNeverLost() throws InterruptedException {
        int perThread = 100_000;
        try (GuestMemory memory = GuestMemory.allocate(1L << 20)) {
            CountDownLatch start = new CountDownLatch(1);
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                Mmu mmu = mmu(memory);
                threads.add(Thread.ofPlatform().start(() -> {
                    await(start);
                    long[] seen = new long[2];
                    long lo = 0, hi = 0;
                    for (int i = 0; i < perThread; i++) {
                        while (!mmu.compareAndSwap16(ADDR, lo, hi, lo + 1, hi + 1, seen)) {
                            lo = seen[0];
                            hi = seen[1];
                        }
                        lo++;
                        hi++;
                    }
                }));
            }
            Mmu single = mmu(memory);
            threads.add(Thread.ofPlatform().start(() -> {
                await(start);
                for (int i = 0; i < perThread; i++) {
                    long v;
                    do {
                        v = single.read(ADDR, 8);
                    } while (!single.compareAndSwap(ADDR, 8, v, v + 1));
                }
            }));
            start.countDown();
            for (Thread t : threads) {
                t.join();
            }
            assertEquals(3L * perThread, memory.readLong(ADDR), "low half: both 16-byte and 8-byte increments");
            assertEquals(2L * perThread, memory.readLong(ADDR + 8), "high half: the 16-byte increments");
        }
    }

    /** Paging off (CR0.PG = 0), so linear addresses are physical. */
    private static Mmu mmu(GuestMemory memory) {
        return new Mmu(new CpuState(), new PhysicalMemory(memory, new Bus("mmio"), null));
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
