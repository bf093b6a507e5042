package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.nativecode.CodeCache;
import org.junit.jupiter.api.Test;

import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.CODE;
import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.DATA;
import static dev.flint.engine.emu.cpu.NativeMemoryFormsTest.HALT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The native code cache holds a working set as large as the kernel's boot phase has (docs/emu-native.md,
 * "emuboot"): there the 4 MiB cache of one vCPU filled and flushed about every 3,000 translations, 95 times
 * before the bench guest's init ran, and each flush made the vCPU translate its hot blocks again (266 k
 * translations instead of 43 k, a third of the vCPU thread's Java time and most of what it allocated). Here
 * {@link #BLOCKS} blocks of stores (the memory forms' probes make each ~1.5 KiB of host code, more than
 * 4 MiB in all) run in a loop: once decoded, once translated, and then again, when nothing may be flushed or
 * translated anew.
 */
class NativeCodeCacheWorkingSetTest {
    /** Blocks in the loop, each at its own 128 bytes of guest code from CODE. */
    static final int BLOCKS = 2_000, STORES = 12;

    /** {@code mov [rbx + 4k], eax; add eax, 1} ... then {@code jmp} to the next block (the last one: HLT). */
    private static byte[] block(long at, long next) {
        byte[] b = new byte[128];
        int n = 0;
        for (int k = 0; k < STORES; k++) {
            b[n++] = (byte) 0x89; b[n++] = 0x43; b[n++] = (byte) (4 * k); // mov [rbx + disp8], eax
            b[n++] = (byte) 0x83; b[n++] = (byte) 0xC0; b[n++] = 0x01;     // add eax, 1
        }
        long rel = next - (at + n + 5);
        b[n++] = (byte) 0xE9;
        for (int i = 0; i < 4; i++) b[n++] = (byte) (rel >> (8 * i));
        return b;
    }

    private static long pass(NativeMemoryFormsTest.Machine m) {
        long[] gpr = new long[16];
        gpr[3] = DATA + 0x100;
        gpr[4] = DATA + 0x800;
        m.reset(gpr, 0x2, CODE);
        String out = m.run(1 << 16);
        assertTrue(out.startsWith("halt"), out);
        return m.st.gpr[0];
    }

    @Test
    void aLoopOverMoreThanFourMibOfTranslatedBlocksIsTranslatedOnce() {
        assumeTrue(CodeCache.unavailableReason().isEmpty(), () -> CodeCache.unavailableReason().orElseThrow());
        try (NativeMemoryFormsTest.Machine m = new NativeMemoryFormsTest.Machine(true, true)) {
            for (int i = 0; i < BLOCKS; i++) {
                long at = CODE + 128L * i;
                m.mem.write(at, block(at, i == BLOCKS - 1 ? HALT : at + 128));
            }
            m.mem.write(HALT, new byte[] {(byte) 0xF4});
            assertTrue(CODE + 128L * BLOCKS <= HALT);
            long want = (long) BLOCKS * STORES;
            assertEquals(want, pass(m), "decoding pass"); // decodes (runs in Java)
            assertEquals(want, pass(m), "translating pass"); // translates every block
            CodeCache cache = m.cpu.nativeCache();
            long flushes = cache.flushes(), used = cache.used();
            assertEquals(want, pass(m), "the warm pass");
            assertEquals(want, m.mem.readInt(DATA + 0x100 + 4 * (STORES - 1)) + 1L, "the last store's value");
            assertEquals(flushes, cache.flushes(), "the warm pass flushed the code cache");
            assertEquals(used, cache.used(), "the warm pass translated blocks again");
            assertTrue(used > 4 << 20, "the working set's host code, " + used + " bytes, is more than 4 MiB");
        }
    }
}
