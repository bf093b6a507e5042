package dev.flint.engine.emu.bench;

import dev.flint.engine.emu.EmuTestRig;

import java.util.HexFormat;

/**
 * Measures interpreter speed in MIPS on a tight loop of ALU, load/store and branch instructions.
 * Not a test: run with
 * {@code java -cp target/classes:target/test-classes dev.flint.engine.emu.bench.InterpreterBenchmark [loop|rounds|mpi]}.
 */
public final class InterpreterBenchmark {
    /** mov rcx, 1e7; 1: add rax, rcx; mov [0x200000+rdx*8], rax; xor rdx, 1; mov rbx, [0x200000];
     *  dec rcx; jnz 1b; hlt  — 6 instructions per iteration. */
    private static final String LOOP = "48c7c1809698004801c8488904d50000200048"
            + "83f201488b1c250000200048ffc975e4f4";

    /** mov ecx, 2e6; 1: 5 x (add eax, ebx; xor ebx, edx; rol eax, 5; mov edx, eax; and edx, esi); dec ecx;
     *  jnz 1b; hlt — 27 register-only instructions per iteration, the shape of a hash function's rounds. */
    private static final String ROUNDS = "b980841e00" + "01d831d3c1c00589c221f2".repeat(5) + "ffc975c5f4";

    /** The inner loop of the stock kernel's mpihelp_submul_1 (its bytes, 38 instructions: 64-bit multiply
     *  done in 32-bit halves, cmov, setb, adc, a load and a store per limb) over 128 limbs, 50,000 times:
     *  the RSA arithmetic the kernel's crypto self-tests and certificate checks spend boot time in. */
    private static final String MPI = "41bf50c30000bb0000200041bb0008200049c7c080ffffff4d89c441b97856341241baf1debc9a"
            + "48bd000000000100000031f6eb034963c04c29e0488b0cc3488d3cc5000000004889ca89c948c1ea204889c8490fafc1"
            + "4989d54d0fafe9490fafca490fafd24989c689c049c1ee204c01e94c01f14989d64801ea4c39e94989cd490f43d64801f0"
            + "49c1e5204c01e84839f0400f92c64c01df48c1e9204c8b2f400fb6f64929c54811ce4c892f4801d64183c0010f857bffffff"
            + "41ffcf0f8543fffffff4";

    public static void main(String[] args) {
        String workload = args.length > 0 ? args[0] : "loop";
        byte[] code = HexFormat.of().parseHex(switch (workload) {
            case "rounds" -> ROUNDS;
            case "mpi" -> MPI;
            default -> LOOP;
        });
        for (int round = 0; round < 3; round++) {
            var threads = java.lang.management.ManagementFactory.getThreadMXBean();
            long t0 = System.nanoTime(), c0 = threads.getCurrentThreadCpuTime();
            EmuTestRig.Result r = new EmuTestRig().slices(4096).run(code, EmuTestRig.State.of(new long[16], 2), new byte[0], 0,
                    Long.MAX_VALUE);
            double secs = (System.nanoTime() - t0) / 1e9;
            double cpu = (threads.getCurrentThreadCpuTime() - c0) / 1e9;
            // CPU time is the fair figure on a shared machine; wall time is what a user sees.
            System.out.printf("round %d: %d instructions, %.2f s wall, %.2f s CPU = %.1f MIPS per CPU second (%s %d at %x)%n",
                    round, r.instructions(), secs, cpu, r.instructions() / cpu / 1e6, r.stop(), r.faultVector(), r.state().rip());
        }
    }
}
