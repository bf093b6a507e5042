package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.EmuTestRig;
import org.junit.jupiter.api.Test;

import java.util.HexFormat;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Decoded blocks: code that runs many times through the block cache (and its fast forms) gives the same
 * result as decoding every instruction afresh, at kernel (negative) addresses too, and code the guest
 * rewrites is decoded again. The differential test compares replays against the host CPU as well.
 */
class DecodedBlockTest {
    /**
     * Sums the odd numbers below 1000: mov ecx, 999; xor eax, eax; L: test cl, 1; jz S; add eax, ecx;
     * S: dec ecx; jnz L; hlt — a taken and a not-taken branch on alternate passes.
     */
    private static final String ODD_SUM = "b9e7030000" + "31c0" + "f6c101" + "7402" + "01c8" + "ffc9" + "75f5" + "f4";

    /**
     * Runs a block twice and rewrites it in between: mov ebx, 2; L: mov eax, 1; mov dword [rip-14], 42
     * (the immediate of that mov); dec ebx; jnz L; hlt. The second pass must run the new bytes.
     */
    private static final String SELF_MODIFYING = "bb02000000" + "b801000000" + "c705f2ffffff2a000000" + "ffcb" + "75ed" + "f4";

    private static EmuTestRig.Result run(String hex, long base) {
        EmuTestRig.State start = new EmuTestRig.State(new long[16], 2, base + EmuTestRig.CODE_BASE, new long[32]);
        return new EmuTestRig().slices(4096).run(HexFormat.of().parseHex(hex), start, new byte[0], 0, 10_000_000);
    }

    @Test
    void loopWithBranchesGivesTheSameSumAtUserAndKernelAddresses() {
        for (long base : new long[] {0, EmuTestRig.KERNEL_ALIAS}) {
            EmuTestRig.Result r = run(ODD_SUM, base);
            assertEquals(EmuTestRig.Stop.HALT, r.stop());
            assertEquals(250_000, r.state().gpr()[0], "sum of odd numbers at base " + Long.toHexString(base));
            assertEquals(0, r.state().gpr()[1]);
        }
    }

    @Test
    void rewrittenCodeIsDecodedAgain() {
        for (long base : new long[] {0, EmuTestRig.KERNEL_ALIAS}) {
            EmuTestRig.Result r = run(SELF_MODIFYING, base);
            assertEquals(EmuTestRig.Stop.HALT, r.stop());
            assertEquals(42, r.state().gpr()[0], "the second pass ran the rewritten mov");
        }
    }
}
