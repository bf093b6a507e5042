package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.nativecode.BlockFrame;
import dev.flint.engine.emu.nativecode.CodeCache;
import dev.flint.engine.emu.nativecode.X64Emitter;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The Java side of entering native code: a {@link CpuState} with lazily kept flags goes in (registers, RIP, the
 * materialised six flags) and comes back with the block's results, the flags eager, and the rest of RFLAGS as
 * it was.
 */
class NativeTierTest {
    /**
     * {@code Cpu} with the native tier on: a two-block loop (mov ecx, 1000; xor eax, eax; L: test cl, 1; jz S;
     * add eax, ecx; S: dec ecx; jnz L) runs its whole-translated blocks as host code, and the outcome is the
     * one of the CPU decoding every instruction ({@code replays(true)} throws if any of its block runs differs).
     */
    @Test
    void theCpuRunsWholeTranslatedBlocksNativelyWithTheSameOutcome() {
        assumeTrue(CodeCache.unavailableReason().isEmpty(), () -> CodeCache.unavailableReason().orElseThrow());
        byte[] code = java.util.HexFormat.of().parseHex("b9e8030000" + "31c0" + "f6c101" + "7402" + "01c8" + "ffc9" + "75f5");
        long[] gpr = new long[16];
        for (int i = 0; i < 16; i++) gpr[i] = 0x1234_5678_9ABC_DEF0L * (i + 1);
        dev.flint.engine.emu.EmuTestRig rig = new dev.flint.engine.emu.EmuTestRig().nativeTier(true).replays(true);
        var r = rig.run(code, dev.flint.engine.emu.EmuTestRig.State.of(gpr, 2 | Flags.CF | Flags.AF), new byte[0], 0);
        assertEquals(250_000, r.state().gpr()[0], "eax: the sum of the odd numbers 1..999");
        assertEquals(dev.flint.engine.emu.EmuTestRig.Stop.END, r.stop());
        assertTrue(rig.statistics().nativeInstructions() > 2_000,
                "instructions run natively: " + rig.statistics().nativeInstructions());
    }

    @Test
    void lazyFlagsGoInMaterialisedAndTheSystemBitsStayInJava() {
        assumeTrue(CodeCache.unavailableReason().isEmpty(), () -> CodeCache.unavailableReason().orElseThrow());
        try (NativeTier tier = new NativeTier(64 * 1024)) {
            // An empty block (entry and exit only), leaving at 0x5000.
            X64Emitter e = new X64Emitter();
            BlockFrame frame = new BlockFrame(e, 0);
            frame.exit(0x5000, 0, BlockFrame.EXIT_STOP);
            frame.finish();
            long empty = tier.cache().install(e);
            for (long[] sub : new long[][] {{1, 2}, {2, 1}, {0x80, 1}, {5, 5}, {0x7F, -1}}) {
                CpuState s = new CpuState();
                for (int i = 0; i < 16; i++) s.gpr[i] = 0x0101_0101_0101_0101L * i;
                s.rip = 0x4000;
                s.flags.system = 2 | Flags.IF | Flags.DF | Flags.AC | Flags.TF;
                s.flags.set(Flags.SUB, 1, sub[0], sub[1], sub[0] - sub[1]); // CMP AL-sized: lazily kept
                long want = s.flags.arith();
                assertEquals(BlockFrame.EXIT_STOP, tier.run(empty, s, 10));
                assertEquals(want, s.flags.arith(), "the six flags of a lazy SUB came back");
                assertEquals(2 | Flags.IF | Flags.DF | Flags.AC | Flags.TF, s.flags.system, "system bits untouched");
                assertEquals(0x5000, s.rip);
                for (int i = 0; i < 16; i++) assertEquals(0x0101_0101_0101_0101L * i, s.gpr[i]);
                assertEquals(0, tier.instructions());
            }
        }
    }
}
