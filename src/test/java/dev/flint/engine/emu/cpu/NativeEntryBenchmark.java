package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.nativecode.BlockFrame;
import dev.flint.engine.emu.nativecode.X64Emitter;

/**
 * What one entry into a translated block costs, in parts (not a test; docs/emu-native.md, "Translator, part 1"):
 * {@code frame}: {@code CodeCache.enter} of a block that is only {@link BlockFrame}'s entry and exit (the downcall,
 * callee-saved registers, budget check, flags in by popfq and out by pushfq, 14 registers loaded and stored);
 * {@code tier}: the same through {@link NativeTier#run} (16 registers, RIP, the flags materialised from a lazy
 * SUB and set back, the budget: the Java side's copies). Medians of {@code -Drounds=N} rounds of 10 M entries,
 * ns per entry by the calling thread's CPU time.
 * {@code java --enable-native-access=ALL-UNNAMED -cp target/classes:target/test-classes
 * dev.flint.engine.emu.cpu.NativeEntryBenchmark}
 */
public final class NativeEntryBenchmark {
    public static void main(String[] args) {
        int rounds = Integer.getInteger("rounds", 7), n = 10_000_000;
        var threads = java.lang.management.ManagementFactory.getThreadMXBean();
        try (NativeTier tier = new NativeTier(1 << 20)) {
            X64Emitter e = new X64Emitter();
            BlockFrame frame = new BlockFrame(e, 1);
            frame.exit(0x5000, 1, BlockFrame.EXIT_STOP);
            frame.finish();
            long block = tier.cache().install(e);
            CpuState s = new CpuState();
            double[] raw = new double[rounds], full = new double[rounds];
            long sink = 0;
            for (int r = 0; r < rounds; r++) {
                tier.state().budget(Long.MAX_VALUE);
                long c0 = threads.getCurrentThreadCpuTime();
                for (int i = 0; i < n; i++) sink += tier.cache().enter(block, tier.state().address());
                long c1 = threads.getCurrentThreadCpuTime();
                for (int i = 0; i < n; i++) {
                    s.flags.set(Flags.SUB, 8, i, 3, i - 3);
                    sink += tier.run(block, s, 1000);
                }
                long c2 = threads.getCurrentThreadCpuTime();
                raw[r] = (c1 - c0) / (double) n;
                full[r] = (c2 - c1) / (double) n;
            }
            java.util.Arrays.sort(raw);
            java.util.Arrays.sort(full);
            System.out.printf("frame only (CodeCache.enter): %.2f ns per entry; NativeTier.run (with the copies): %.2f ns"
                    + " (medians of %d rounds; %d)%n", raw[rounds / 2], full[rounds / 2], rounds, sink & 1);
        }
    }
}
