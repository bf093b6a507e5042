package dev.flint.engine.emu.bench;

import dev.flint.engine.emu.EmuTestRig;

import java.util.HexFormat;

/**
 * Measures interpreter speed in MIPS on a tight loop of ALU, load/store and branch instructions.
 * Not a test: run with
 * {@code java -cp target/classes:target/test-classes dev.flint.engine.emu.bench.InterpreterBenchmark [loop|rounds|mpi|mpipage|sha256|branchy|calls]}
 * ({@code -Drounds=N} rounds, each on a fresh CPU; for sha256 {@code -Dcalls=N} calls of the block function).
 */
public final class InterpreterBenchmark {
    /** mov rcx, 1e7; 1: add rax, rcx; mov [0x200000+rdx*8], rax; xor rdx, 1; mov rbx, [0x200000];
     *  dec rcx; jnz 1b; hlt  — 6 instructions per iteration. */
    private static final String LOOP = "48c7c1809698004801c8488904d50000200048"
            + "83f201488b1c250000200048ffc975e4f4";

    /** mov ecx, 1e7; xor eax, eax; L: test cl, 1; jz S; add eax, ecx; S: dec ecx; jnz L; hlt — two blocks
     *  that run in turn (the JZ leaves the loop block on every other pass): the block-to-block path that
     *  kernel code with its short blocks takes all the time. */
    private static final String BRANCHY = "b980969800" + "31c0" + "f6c101" + "7402" + "01c8" + "ffc9" + "75f5" + "f4";

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

    /** busybox's sha256_process_block64 (the static busybox of the guest cache, bytes as they are there:
     *  the message schedule, then 64 rounds of ror/rol/and/not/add on 32-bit registers, a K table load and
     *  a W load per round) called 100,000 times on a context in the data page: the inner loop of the
     *  in-guest sha256sum that bench/emu-boot.sh times. Its K table (rip-relative) reads as zeros here,
     *  which changes the digest but not the work. */
    private static final String SHA256 = "bba0860100" + "bf00002000" + "e805000000" + "ffcb" + "75f2" + "f4"
            + "41574889f831c941564155415455534881ec3801000064488b142528000000488994242801000031d28b3408488d5424"
            + "280fce89740c284883c1044883f94075e84c8d8424e80000008b72388b7a044883c20489f14189f1c1ee0a41c1c10dc1"
            + "c10f4431c94189f931f18b72fc03722041c1c10e01f189fec1ef03c1ce074431ce31fe01f1894a3c4939d075bc8b5854"
            + "8b786c4531d24c8d3511150200448b6050895c24048b58584189fb448b4c2404897c241c4489e7895c24088b585c448b"
            + "442408895c240c8b5860448b6c240c895c24108b58648b742410895c24148b58688b6c2414895c241889f189f24189f7"
            + "c1c906c1ca0b4121ef31ca89f1c1c10731ca89f1430354d6044203549428f7d149ffc221d94431f94589cf01ca89f945"
            + "21c74401da4189fbc1c90d41c1cb024131cb89f9c1c10a4131cb4489c94431c121f94431f9468d3c2a4589c54401d941"
            + "89db01d14983fa40741489eb4589c889f54189f94489fe89cfe97bffffff8b5424044101cc4489605001fa8950548b54"
            + "24084401ca8950588b54240c4401c289505c8b5424104401fa8950608b54241401f28950648b54241801ea8950688b54"
            + "241c01da89506c488b84242801000064482b0425280000007405e8d789f0ff4881c4380100005b5d415c415d415e415f"
            + "c3";

    /** mov ecx, 2e6; L: call f; dec ecx; jnz L; hlt; f: push rbx; push rbp; push r12; mov rbx, rcx;
     *  add rax, rbx; pop r12; pop rbp; pop rbx; ret — 12 instructions per iteration, the save/restore
     *  runs of a kernel function's prologue and epilogue. */
    private static final String CALLS = "b980841e00" + "e805000000" + "ffc9" + "75f7" + "f4"
            + "53" + "55" + "4154" + "4889cb" + "4801d8" + "415c" + "5d" + "5b" + "c3";

    /** Zero, but a stack for the workloads that call. */
    private static long[] registers() {
        long[] gpr = new long[16];
        gpr[4] = EmuTestRig.STACK_TOP;
        return gpr;
    }

    public static void main(String[] args) {
        String workload = args.length > 0 ? args[0] : "loop";
        byte[] code = HexFormat.of().parseHex(switch (workload) {
            case "rounds" -> ROUNDS;
            case "mpi" -> MPI;
            // The same loop placed as the stock kernel has it: its 31st instruction crosses a page end, so
            // it is two blocks (led in by NOPs that run once)
            case "mpipage" -> "90".repeat(0xf96 - MPI.indexOf("4963c04c29e0") / 2) + MPI;
            case "sha256" -> SHA256;
            case "branchy" -> BRANCHY;
            case "calls" -> CALLS;
            default -> LOOP;
        });
        if (workload.equals("sha256") && Integer.getInteger("calls") != null) {
            // -Dcalls=N: N calls instead of 100,000 (mov ebx, imm32 at the start), so that the one-time
            // work of a round (replay below the compile threshold, the JIT compiling the new block
            // classes) weighs as little as in the in-guest job's 1,000,000 calls
            int calls = Integer.getInteger("calls");
            for (int i = 0; i < 4; i++) code[1 + i] = (byte) (calls >>> (8 * i));
        }
        for (int round = 0; round < Integer.getInteger("rounds", 3); round++) {
            var threads = java.lang.management.ManagementFactory.getThreadMXBean();
            long t0 = System.nanoTime(), c0 = threads.getCurrentThreadCpuTime();
            EmuTestRig rig = new EmuTestRig();
            // -Dflint.emu.compileThreshold=0: nothing compiled, every block replayed (the replay tier alone)
            Long threshold = Long.getLong("flint.emu.compileThreshold");
            if (threshold != null) rig.compileThreshold(threshold);
            // -Dflint.emu.native=on: blocks the native translator covers whole run as host code
            rig.nativeTier("on".equals(System.getProperty("flint.emu.native")));
            EmuTestRig.Result r = rig.slices(4096).run(code, EmuTestRig.State.of(registers(), 2), new byte[0], 0,
                    Long.MAX_VALUE);
            double secs = (System.nanoTime() - t0) / 1e9;
            double cpu = (threads.getCurrentThreadCpuTime() - c0) / 1e9;
            // CPU time is the fair figure on a shared machine; wall time is what a user sees.
            System.out.printf("round %d: %d instructions, %.2f s wall, %.2f s CPU = %.1f MIPS per CPU second (%s %d at %x; "
                            + "%d native, %d compiled, %d replayed)%n",
                    round, r.instructions(), secs, cpu, r.instructions() / cpu / 1e6, r.stop(), r.faultVector(), r.state().rip(),
                    rig.statistics().nativeInstructions(), rig.statistics().compiledInstructions(),
                    rig.statistics().replayedInstructions());
            if (Boolean.getBoolean("blocks")) rig.hotBlocks(12).forEach(System.out::println);
        }
    }
}
