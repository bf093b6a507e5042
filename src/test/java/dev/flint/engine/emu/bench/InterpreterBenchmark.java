package dev.flint.engine.emu.bench;

import dev.flint.engine.emu.EmuTestRig;

import java.util.HexFormat;

/**
 * Measures interpreter speed in MIPS on a tight loop of ALU, load/store and branch instructions.
 * Not a test: run with
 * {@code java -cp target/classes:target/test-classes dev.flint.engine.emu.bench.InterpreterBenchmark [rounds]}.
 */
public final class InterpreterBenchmark {
    /** mov rcx, 1e7; 1: add rax, rcx; mov [0x200000+rdx*8], rax; xor rdx, 1; mov rbx, [0x200000];
     *  dec rcx; jnz 1b; hlt  — 6 instructions per iteration. */
    private static final String LOOP = "48c7c1809698004801c8488904d50000200048"
            + "83f201488b1c250000200048ffc975e4f4";

    /** mov ecx, 2e6; 1: 5 x (add eax, ebx; xor ebx, edx; rol eax, 5; mov edx, eax; and edx, esi); dec ecx;
     *  jnz 1b; hlt — 27 register-only instructions per iteration, the shape of a hash function's rounds. */
    private static final String ROUNDS = "b980841e00" + "01d831d3c1c00589c221f2".repeat(5) + "ffc975c5f4";

    public static void main(String[] args) {
        byte[] code = HexFormat.of().parseHex(args.length > 0 && args[0].equals("rounds") ? ROUNDS : LOOP);
        for (int round = 0; round < 3; round++) {
            var threads = java.lang.management.ManagementFactory.getThreadMXBean();
            long t0 = System.nanoTime(), c0 = threads.getCurrentThreadCpuTime();
            EmuTestRig.Result r = new EmuTestRig().slices(4096).run(code, EmuTestRig.State.of(new long[16], 2), new byte[0], 0,
                    Long.MAX_VALUE);
            double secs = (System.nanoTime() - t0) / 1e9;
            double cpu = (threads.getCurrentThreadCpuTime() - c0) / 1e9;
            // CPU time is the fair figure on a shared machine; wall time is what a user sees.
            System.out.printf("round %d: %d instructions, %.2f s wall, %.2f s CPU = %.1f MIPS per CPU second (%s)%n",
                    round, r.instructions(), secs, cpu, r.instructions() / cpu / 1e6, r.stop());
        }
    }
}
