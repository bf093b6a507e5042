package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.EmuTestRig;
import org.junit.jupiter.api.Test;

import java.util.HexFormat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A compiled block leaves a flag update pending in JVM locals when a later instruction replaces all flags
 * before anything reads them, with only guest memory accesses in between: the normal path never records
 * it, so the guest sees it only if one of those accesses faults, or a store into code ends the block
 * right after itself. Both are run here from compiled code (the rig's replays compile at the first entry
 * and compare every register and RFLAGS with the interpreter); each fails if that way out does not record
 * the pending update.
 */
class CompiledFlagsTest {
    private static final long CF = 1, ZF = 1 << 6, OF = 1 << 11;

    @Test
    void aLoadFaultingAfterAFlagSetterShowsThatSettersFlags() {
        // L: add rax, rcx; mov rdx, [rbx]; cmp rdx, rsi; add rbx, rdi; jmp L. The CMP replaces the ADD's
        // flags, so the ADD's stay pending across the load; rbx steps a page per pass to the end of RAM,
        // where the 41st pass's load faults (#PF): RFLAGS there are the ADD's of that pass
        // (0x8000... + 0x8000...: CF, ZF, OF), not those of the previous pass's last ADD.
        long[] gpr = new long[16];
        gpr[0] = 0x8000_0000_0000_0000L;
        gpr[1] = 0x8000_0000_0000_0000L;
        gpr[3] = 0x40_0000L - 40 * 4096;
        gpr[6] = 1;
        gpr[7] = 4096;
        EmuTestRig rig = new EmuTestRig().replays(true);
        EmuTestRig.Result r = rig.run(HexFormat.of().parseHex("4801c8" + "488b13" + "4839f2" + "4801fb" + "ebf2"),
                EmuTestRig.State.of(gpr, 2), new byte[0], 0, 1_000);
        assertEquals(EmuTestRig.Stop.FAULT, r.stop());
        assertEquals(GuestFault.PF, r.faultVector());
        assertEquals(0x40_0000L, r.state().gpr()[3]);
        assertEquals(0L, r.state().gpr()[0], "the 41st ADD ran");
        assertEquals(CF | ZF | OF, r.state().rflags() & (CF | ZF | OF), "the ADD's flags at the fault");
        assertTrue(DecodedBlockTest.OUTCOME_ONLY || rig.statistics().compiledInstructions() > 100, "ran compiled");
    }

    @Test
    void aStoreIntoCodeAfterAFlagSetterLeavesTheBlockWithThatSettersFlags() {
        // L: cmp rax, rcx; mov [rbx], edx; S: cmp rdx, rsi; nop; test r8, r8; jnz END; dec r10d;
        // cmovz rbx, r11; jmp L; END. The store goes to the data page until R10D reaches 0, then to S: it
        // writes pushfq; pop r8; nop there, a store into code that ends the block right after itself, and
        // the new code gives R8 the flags the first CMP left (0 - 0x8000...: CF, OF), which the compiled
        // block had pending, since the CMP at S would have replaced them.
        long[] gpr = new long[16];
        gpr[1] = 0x8000_0000_0000_0000L;
        gpr[2] = 0x9058_419CL;              // 9c 41 58 90: pushfq; pop r8; nop
        gpr[3] = EmuTestRig.DATA_BASE;
        gpr[4] = EmuTestRig.STACK_TOP;
        gpr[6] = 1;
        gpr[10] = 30;
        gpr[11] = EmuTestRig.CODE_BASE + 5; // S
        String code = "4839c8" + "8913" + "4839f290" + "4d85c0" + "7509" + "41ffca" + "490f44db" + "ebe9";
        EmuTestRig rig = new EmuTestRig().replays(true);
        EmuTestRig.Result r = rig.run(HexFormat.of().parseHex(code), EmuTestRig.State.of(gpr, 2),
                new byte[EmuTestRig.DATA_SIZE], 0, 10_000);
        assertEquals(EmuTestRig.Stop.END, r.stop());
        assertEquals(0, r.state().gpr()[10], "the store went to S once R10D reached 0");
        assertEquals(CF | OF, r.state().gpr()[8] & (CF | ZF | OF), "PUSHF saw the first CMP's flags");
        assertTrue(DecodedBlockTest.OUTCOME_ONLY || rig.statistics().compiledInstructions() > 100, "ran compiled");
    }
}
