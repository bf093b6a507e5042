package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.EmuTestRig;

import java.util.HexFormat;

/**
 * What a budget round trip costs (not a test; docs/emu-native.md, "emuexit2"): an endless native loop
 * ({@code L: add qword [rbx], 1; jmp L}) driven by {@link Cpu#execute} in slices of 4,096 instructions, as
 * {@code Vcpu} did before emuexit2 (each slice a budget exit, Java's run loop and a native entry again), against
 * slices whose native budget is 2^20 ({@link Cpu#execute(long, long)}, emuexit2). Prints, per round, the calling
 * thread's CPU ns per slice of 4,096 and per 4,096 instructions of the long slices, and their difference: the cost
 * of one round trip (without {@code Vcpu}'s own checks between slices). {@code -Drounds=N}, {@code -Dslices=N}.
 * {@code java --enable-native-access=ALL-UNNAMED -cp target/classes:target/test-classes
 * dev.flint.engine.emu.cpu.NativeSliceBenchmark}
 */
public final class NativeSliceBenchmark {
    public static void main(String[] args) {
        int rounds = Integer.getInteger("rounds", 7), slices = Integer.getInteger("slices", 20_000);
        var threads = java.lang.management.ManagementFactory.getThreadMXBean();
        long[] gpr = new long[16];
        gpr[3] = EmuTestRig.DATA_BASE;
        new EmuTestRig().nativeTier(true).session(HexFormat.of().parseHex("48830301" + "ebfa"), EmuTestRig.State.of(gpr, 2), 0, s -> {
            Cpu cpu = s.cpu();
            cpu.clearKick();
            double[] shortNs = new double[rounds], longNs = new double[rounds];
            for (int r = 0; r < rounds; r++) {
                long i0 = cpu.statistics().instructions(), c0 = threads.getCurrentThreadCpuTime();
                for (int i = 0; i < slices; i++) cpu.execute(4096);
                long i1 = cpu.statistics().instructions(), c1 = threads.getCurrentThreadCpuTime();
                for (int i = 0; i < slices / 256; i++) cpu.execute(4096, 1 << 20);
                long i2 = cpu.statistics().instructions(), c2 = threads.getCurrentThreadCpuTime();
                shortNs[r] = (c1 - c0) * 4096.0 / (i1 - i0);
                longNs[r] = (c2 - c1) * 4096.0 / (i2 - i1);
                System.out.printf("round %d: %.1f ns per 4,096 instructions in slices of 4,096, %.1f in native slices of 2^20: %.1f ns a round trip%n",
                        r, shortNs[r], longNs[r], shortNs[r] - longNs[r]);
            }
            java.util.Arrays.sort(shortNs);
            java.util.Arrays.sort(longNs);
            System.out.printf("median: %.1f / %.1f ns per 4,096 instructions; a round trip ~%.1f ns%n",
                    shortNs[rounds / 2], longNs[rounds / 2], shortNs[rounds / 2] - longNs[rounds / 2]);
            return null;
        });
    }
}
