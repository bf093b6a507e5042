package dev.flint.engine.emu.bench;

import dev.flint.engine.emu.EmuTestRig;

/**
 * Measures the dispatcher: the cost of going from one decoded block to the next. Not a test: run with
 * {@code java -Drounds=5 -Dthreshold=N -cp target/classes:target/test-classes
 * dev.flint.engine.emu.bench.BlockTransitionBenchmark [chain|calls]} ({@code -Dthreshold=0} replays only,
 * {@code 1} compiles every block at its first entry, unset is the engine's default).
 *
 * <p>{@code chain}: eight blocks of four instructions (add, xor, inc, jmp), each on its own code page so that
 * no compiled region swallows the next one, run in a ring 2,000,000 times: every block ends in a transition
 * through a direct link. {@code calls}: a call, a three-push prologue, two ALU instructions, three pops and a
 * ret (three blocks per iteration, the ret an indirect transition), the shape of kernel helpers.
 *
 * <p>Prints blocks entered per CPU second of the running thread (the fair figure on a shared host) and the
 * nanoseconds per block.
 */
public final class BlockTransitionBenchmark {
    private static final int PAGES = 8;

    private static byte[] chain(int iterations) {
        byte[] code = new byte[(PAGES + 1) * 4096];
        int at = 0;
        code[at++] = (byte) 0xb9; // mov ecx, iterations
        for (int i = 0; i < 4; i++) code[at++] = (byte) (iterations >>> (8 * i));
        at = jmp(code, at, 4096);
        for (int p = 1; p <= PAGES; p++) {
            at = p * 4096;
            at = put(code, at, 0x48, 0x01, 0xc8); // add rax, rcx
            at = put(code, at, 0x48, 0x31, 0xc3); // xor rbx, rax
            at = put(code, at, 0x48, 0xff, 0xc2); // inc rdx
            if (p < PAGES) {
                jmp(code, at, (p + 1) * 4096);
            } else {
                at = put(code, at, 0xff, 0xc9); // dec ecx
                at = put(code, at, 0x0f, 0x85); // jnz rel32 to page 1
                int rel = 4096 - (at + 4);
                for (int i = 0; i < 4; i++) code[at++] = (byte) (rel >>> (8 * i));
                code[at++] = (byte) 0xf4; // hlt
                code = java.util.Arrays.copyOf(code, at);
            }
        }
        return code;
    }

    private static int jmp(byte[] code, int at, int target) {
        code[at++] = (byte) 0xe9;
        int rel = target - (at + 4);
        for (int i = 0; i < 4; i++) code[at++] = (byte) (rel >>> (8 * i));
        return at;
    }

    private static int put(byte[] code, int at, int... bytes) {
        for (int b : bytes) code[at++] = (byte) b;
        return at;
    }

    /** As InterpreterBenchmark's calls: mov ecx, n; L: call f; dec ecx; jnz L; hlt; f: push x3, mov, add, pop x3, ret. */
    private static byte[] calls(int iterations) {
        byte[] code = java.util.HexFormat.of().parseHex("b900000000" + "e805000000" + "ffc9" + "75f7" + "f4"
                + "53" + "55" + "4154" + "4889cb" + "4801d8" + "415c" + "5d" + "5b" + "c3");
        for (int i = 0; i < 4; i++) code[1 + i] = (byte) (iterations >>> (8 * i));
        return code;
    }

    public static void main(String[] args) {
        String workload = args.length > 0 ? args[0] : "chain";
        int iterations = Integer.getInteger("iterations", 2_000_000);
        byte[] code = workload.equals("calls") ? calls(iterations) : chain(iterations);
        Long threshold = Long.getLong("threshold");
        var threads = java.lang.management.ManagementFactory.getThreadMXBean();
        for (int round = 0; round < Integer.getInteger("rounds", 5); round++) {
            long[] gpr = new long[16];
            gpr[4] = EmuTestRig.STACK_TOP;
            EmuTestRig rig = new EmuTestRig().slices(4096);
            if (threshold != null) rig.compileThreshold(threshold);
            long c0 = threads.getCurrentThreadCpuTime();
            EmuTestRig.Result r = rig.run(code, EmuTestRig.State.of(gpr, 2), new byte[0], 0, Long.MAX_VALUE);
            double cpu = (threads.getCurrentThreadCpuTime() - c0) / 1e9;
            var st = rig.statistics();
            long blocks = st.linkedEntries() + st.lookups() + st.blocksBuilt();
            System.out.printf("round %d: %d instructions, %d blocks (%d linked, %d looked up, %d built, %d compiled),"
                            + " %.3f s CPU = %.1f M blocks per CPU second, %.1f ns per block (%s)%n",
                    round, r.instructions(), blocks, st.linkedEntries(), st.lookups(), st.blocksBuilt(),
                    st.blocksCompiled(), cpu, blocks / cpu / 1e6, cpu * 1e9 / blocks, r.stop());
        }
    }
}
