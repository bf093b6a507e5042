package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.EmuTestRig;
import org.junit.jupiter.api.Test;

import java.util.HexFormat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Decoded blocks: code that runs many times through the block cache (and its fast forms) gives the same
 * result as decoding every instruction afresh, at kernel (negative) addresses too, and code the guest
 * rewrites is decoded again. The differential test compares replays against the host CPU as well.
 */
class DecodedBlockTest {
    /**
     * With {@code -Dflint.emu.native=on} the rigs run whole-translated blocks natively, so the assertions that a
     * block ran compiled or was entered through its Java link do not hold: then only the outcome (registers, flags,
     * memory, stop, and with {@code replays(true)} every run against the decoding one) is checked.
     */
    static final boolean OUTCOME_ONLY = EmuTestRig.NATIVE_BY_PROPERTY;

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

    /**
     * A loop whose block has a conditional branch in its middle that falls through while the block is
     * decoded and is taken later: mov ecx, 1000; xor eax, eax; xor edx, edx; L: add eax, ecx;
     * cmp ecx, 500; jb S; add edx, 1; S: dec ecx; jnz L; hlt.
     */
    private static final String BRANCH_IN_BLOCK = "b9e8030000" + "31c0" + "31d2" + "01c8" + "81f9f4010000" + "7203"
            + "83c201" + "ffc9" + "75ef" + "f4";

    /**
     * Loads its way up memory until the load page-faults in the middle of a block: mov ebx, 0x3ff000;
     * L: add eax, 1; mov rcx, [rbx]; add rbx, 8; jmp L. The rig maps 4 MiB, so pass 513 faults.
     */
    private static final String FAULT_IN_BLOCK = "bb00f03f00" + "83c001" + "488b0b" + "4883c308" + "ebf4";

    /**
     * Arithmetic whose loop block uses every form compiled blocks inline (ALU with register and immediate
     * sources, TEST, CMP, NEG, IMUL, shifts and rotations by 0, 1 and more, MOVSXD, MOVZX, MOVSX, LEA,
     * INC/DEC, CMOVcc, SETcc) next to ADC and SBB that read the carry, byte-sized ALU, TEST and MOV forms
     * on registers and memory, 16-bit stores, loads and stores (one through FS), and flag updates that
     * later ones overwrite: 300 passes of an 85-instruction loop, assembled from
     * src/test/resources/emu/arithmetic-loop.s.
     */
    private static final String ARITHMETIC = "b92c01000048b8efcdab896745230148bb21436587a9cbed0fba070000004801d84839d1400f92c6480fafc1440fafc0"
            + "48c1e20341c1f9054931c148c1c00d4883d20041c1c907410f90c2d1cb41c1c0054801da49c1cb3c4d0f42f3480f43d3"
            + "440f42d14909d34829c34121dc48d1eb4d63e9440fb6f0440fb7fb488d7c88408d341f4985c348ffc74911c841ffcc48"
            + "19c649c1e2004883c21183fb10410f95c441f7c1341200004c0f44f249f7db410f9cc7f7dbf6c340440f45eb83c0773c"
            + "10400f97c724f01407a8014080fe034180c9814180d94488042510002000c60425110020005af604251000200080410f"
            + "94c2f704250000200001800000410f95c38004251200200003803c25110020005a4c632c251000200044892c25000020"
            + "00488b1425080020004c030425000020004885342510002000410f94c10fb704251000200048891c2518002000c70425"
            + "2000200034120000442b142520002000644c8b1c25180020004c893425080020004138f1410f93c52a04251100200000"
            + "1c251300200010ca4530da66891c2514002000440fbec0480fbf1425140020004d0fbee5ffc90f8572feffff";

    private static EmuTestRig.Result run(String hex, long base) { return run(hex, base, -1); }

    /** Runs at CPL 0 from the code's start, 4096 instructions per slice; threshold -1 = the default. */
    private static EmuTestRig.Result run(String hex, long base, long compileThreshold) {
        EmuTestRig.State start = new EmuTestRig.State(new long[16], 2, base + EmuTestRig.CODE_BASE, new long[32]);
        return new EmuTestRig().slices(4096).compileThreshold(compileThreshold)
                .run(HexFormat.of().parseHex(hex), start, new byte[0], 0, 10_000_000);
    }

    @Test
    void compiledRegisterArithmeticMatchesTheInterpreterInEveryRegisterAndFlag() {
        // replays(true): the rig runs the program decoding every instruction, then builds blocks, replays
        // them, runs them compiled, and throws if any register, flag, data byte or stop differs.
        // The data page is given in full so that each pass starts from the same memory.
        EmuTestRig.State start = EmuTestRig.State.of(new long[16], 2);
        EmuTestRig rig = new EmuTestRig().replays(true);
        EmuTestRig.Result r = rig.run(HexFormat.of().parseHex(ARITHMETIC), start, new byte[EmuTestRig.DATA_SIZE], 0, 1_000_000);
        assertEquals(EmuTestRig.Stop.END, r.stop());
        assertEquals(0, r.state().gpr()[1], "the loop ran to its end");
        CpuStatistics stats = rig.statistics();
        assertTrue(stats.blocksCompiled() > 0, "the loop body was compiled");
        assertTrue(stats.compiledInstructions() > 0 && stats.replayedInstructions() + stats.compiledInstructions()
                <= stats.instructions(), "compiled blocks ran, and are counted within all instructions: "
                + stats.compiledInstructions() + " of " + stats.instructions());
    }

    @Test
    void aCompiledBlockLeavesAtABranchTakenInItsMiddle() {
        for (long threshold : new long[] {0, 1, 50}) {
            EmuTestRig.Result r = run(BRANCH_IN_BLOCK, 0, threshold);
            assertEquals(EmuTestRig.Stop.HALT, r.stop());
            assertEquals(500_500, r.state().gpr()[0], "sum, compile threshold " + threshold);
            assertEquals(501, r.state().gpr()[2], "passes that did not branch, compile threshold " + threshold);
        }
    }

    @Test
    void aFaultInsideACompiledBlockRestartsTheFaultingInstruction() {
        for (long threshold : new long[] {0, 1, 50}) {
            EmuTestRig.Result r = run(FAULT_IN_BLOCK, 0, threshold);
            assertEquals(EmuTestRig.Stop.FAULT, r.stop());
            assertEquals(14, r.faultVector(), "page fault");
            assertEquals(EmuTestRig.CODE_BASE + 8, r.state().rip(), "RIP at the load, threshold " + threshold);
            assertEquals(513, r.state().gpr()[0], "the add before the load ran 513 times, threshold " + threshold);
            assertEquals(0x40_0000, r.state().gpr()[3]);
        }
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
    void aLoopEndingAtAPageEndIsDecodedOnceAndCompiled() {
        // mov ecx, 100000; jmp L; (nops); L at 4096 - 7: add eax, 1; dec ecx; jnz L; then hlt on the next page.
        // The instructions within 16 bytes of a page end were decoded afresh on every pass once.
        String head = "b9a0860100" + "e9ef0f0000";
        String loop = "83c001" + "ffc9" + "75f9";
        String code = head + "90".repeat(4096 - 7 - head.length() / 2) + loop + "f4";
        EmuTestRig rig = new EmuTestRig().slices(4096);
        EmuTestRig.Result r = rig.run(HexFormat.of().parseHex(code), EmuTestRig.State.of(new long[16], 2), new byte[0], 0,
                10_000_000);
        assertEquals(EmuTestRig.Stop.HALT, r.stop());
        assertEquals(100_000, r.state().gpr()[0]);
        String loopBlock = String.format("%016x", EmuTestRig.CODE_BASE + 4096 - 7);
        String line = rig.hotBlocks(5).stream().filter(b -> b.startsWith(loopBlock)).findFirst().orElse("not cached");
        assertTrue(OUTCOME_ONLY || line.contains("compiled") && line.contains(" 3 insns"), line);
    }

    @Test
    void anInstructionCrossingAPageEndIsDecodedOnceAndFollowsItsCode() {
        // mov ecx, 100000; mov ebx, 3; jmp L; (nops); L at 4096 - 4: add eax, ebx; dec ecx (its second byte
        // on the next page); jnz L; hlt. The block at L ends with the crossing DEC and is compiled.
        String head = "b9a0860100" + "bb03000000" + "e9ea0f0000";
        String loop = "01d8" + "ffc9" + "75fa";
        String code = head + "90".repeat(4096 - 4 - head.length() / 2) + loop + "f4";
        EmuTestRig rig = new EmuTestRig().slices(4096);
        EmuTestRig.Result r = rig.run(HexFormat.of().parseHex(code), EmuTestRig.State.of(new long[16], 2), new byte[0], 0,
                10_000_000);
        assertEquals(EmuTestRig.Stop.HALT, r.stop());
        assertEquals(300_000, r.state().gpr()[0]);
        String loopBlock = String.format("%016x", EmuTestRig.CODE_BASE + 4096 - 4);
        String line = rig.hotBlocks(5).stream().filter(b -> b.startsWith(loopBlock)).findFirst().orElse("not cached");
        assertTrue(line.contains("compiled") && line.contains(" 2 insns"), line);
    }

    @Test
    void aStoreIntoTheNextPageOfACrossingInstructionTakesEffect() {
        // mov ecx, 3; jmp L; (nops); L at 4096 - 2: mov eax, 1 (three immediate bytes on the next page);
        // add ebx, eax; mov byte [page 2], 1 (the immediate becomes 0x101); dec ecx; jnz L; hlt.
        String head = "b903000000" + "e9f40f0000";
        String loop = "b801000000" + "01c3" + "c6042500101000" + "01" + "ffc9" + "75ed";
        String code = head + "90".repeat(4096 - 2 - head.length() / 2) + loop + "f4";
        for (long threshold : new long[] {0, 1}) {
            EmuTestRig.Result r = new EmuTestRig().slices(4096).compileThreshold(threshold)
                    .run(HexFormat.of().parseHex(code), EmuTestRig.State.of(new long[16], 2), new byte[0], 0, 1000);
            assertEquals(EmuTestRig.Stop.HALT, r.stop());
            assertEquals(1 + 0x101 + 0x101, r.state().gpr()[3], "passes 2 and 3 ran the rewritten immediate");
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

    @Test
    void aStoreIntoTheRestOfTheRunningBlockTakesEffectAtOnce() {
        // mov ecx, 20; L: add byte [rip+1], 1 (the immediate of the next mov); mov eax, 1; add ebx, eax;
        // dec ecx; jnz L; hlt. As on hardware, every pass runs the immediate its own store just raised
        // (2, 3, ... 21), replayed and compiled alike: the block must end after the store.
        String code = "b914000000" + "80050100000001" + "b801000000" + "01c3" + "ffc9" + "75ee" + "f4";
        for (long threshold : new long[] {0, 1, 2, -1}) {
            EmuTestRig.Result r = run(code, 0, threshold);
            assertEquals(EmuTestRig.Stop.HALT, r.stop());
            assertEquals(21, r.state().gpr()[0], "threshold " + threshold);
            assertEquals(230, r.state().gpr()[3], "threshold " + threshold + ": the sum of 2..21");
        }
    }

    @Test
    void aStoreIntoTheRestOfABlockDecodedWholeTakesEffectAtOnce() {
        // mov ecx, 20; mov edx, 0x200000; lea rsi, [rip+4] (the immediate of the mov eax below);
        // L: mov byte [rdx], 5; mov eax, 1; add ebx, eax; cmp ecx, 11; cmove rdx, rsi; dec ecx; jnz L; hlt.
        // The first ten passes store into data, so the loop is decoded as one block of seven; the last ten
        // store 5 into that block's own mov, which each of them must then run: 10 * 1 + 10 * 5. A replay
        // that went on with the instructions it had decoded would add 1 on the eleventh pass.
        String code = "b914000000" + "ba00002000" + "488d3504000000" + "c60205" + "b801000000" + "01c3" + "83f90b"
                + "480f44d6" + "ffc9" + "75eb" + "f4";
        for (long base : new long[] {0, EmuTestRig.KERNEL_ALIAS}) {
            for (long threshold : new long[] {0, 1, 5, -1}) {
                EmuTestRig.Result r = run(code, base, threshold);
                String where = "threshold " + threshold + " at base " + Long.toHexString(base);
                assertEquals(EmuTestRig.Stop.HALT, r.stop(), where);
                assertEquals(5, r.state().gpr()[0], where);
                assertEquals(60, r.state().gpr()[3], where + ": ten passes of 1, then ten of 5");
            }
        }
    }

    @Test
    void aReplayedBlockCutBySliceEndsGoesOnAtTheNextInstruction() {
        // The 85-instruction arithmetic loop, replayed only, in slices of 1 to 7 instructions: every slice
        // ends in the middle of the loop's block, which must leave RIP and the state exactly there.
        EmuTestRig.State start = new EmuTestRig.State(new long[16], 2, EmuTestRig.CODE_BASE, new long[32]);
        EmuTestRig.Result whole = new EmuTestRig().slices(4096).compileThreshold(0)
                .run(HexFormat.of().parseHex(ARITHMETIC + "f4"), start, new byte[64], 0, 10_000_000);
        assertEquals(EmuTestRig.Stop.HALT, whole.stop());
        for (int slice : new int[] {1, 2, 3, 5, 7}) {
            EmuTestRig.Result cut = new EmuTestRig().slices(slice).compileThreshold(0)
                    .run(HexFormat.of().parseHex(ARITHMETIC + "f4"), start, new byte[64], 0, 10_000_000);
            // (at slice 1 the rig sees RIP at the end of the code, after the HLT, before it sees the halt)
            assertTrue(cut.stop() == EmuTestRig.Stop.HALT || cut.stop() == EmuTestRig.Stop.END, "slice " + slice);
            assertEquals(java.util.Arrays.toString(whole.state().gpr()), java.util.Arrays.toString(cut.state().gpr()),
                    "slice " + slice);
            assertEquals(whole.state().rflags(), cut.state().rflags(), "slice " + slice);
            assertEquals(HexFormat.of().formatHex(whole.data()), HexFormat.of().formatHex(cut.data()), "slice " + slice);
        }
    }

    @Test
    void aCompiledLoopReturnsToTheDispatcherWithinItsSlice() {
        // L: add rax, 1; jmp L — a loop without end. Compiled (threshold 1), its block branches back to its
        // own start inside its JVM method, but only while a whole pass still fits the slice: each slice of
        // 1,000 instructions returns to the dispatcher (where interrupts are taken) after exactly 1,000.
        EmuTestRig rig = new EmuTestRig().slices(1000).compileThreshold(1);
        EmuTestRig.Result r = rig.run(HexFormat.of().parseHex("4883c001" + "ebfa"), EmuTestRig.State.of(new long[16], 2),
                new byte[0], 0, 100_000);
        assertEquals(EmuTestRig.Stop.BUDGET, r.stop());
        assertEquals(100_000, r.instructions(), "no slice ran past its budget");
        assertEquals(50_000, r.state().gpr()[0], "one add per pass");
        assertTrue(OUTCOME_ONLY || rig.statistics().compiledInstructions() > 90_000, "compiled: " + rig.statistics().compiledInstructions());
    }

    @Test
    void blocksThatFollowEachOtherAreEnteredThroughTheirLinksOrRunAsOneRegion() {
        // ODD_SUM runs two blocks in turn (the loop from L, and from S when the JZ is taken): after the
        // first passes each finds the next through its link, not through the cache lookup. Compiled
        // (threshold 1), the two are one region and the passes do not leave it at all.
        for (long threshold : new long[] {0, 1}) {
            EmuTestRig rig = new EmuTestRig().slices(4096).compileThreshold(threshold);
            EmuTestRig.Result r = rig.run(HexFormat.of().parseHex(ODD_SUM), EmuTestRig.State.of(new long[16], 2),
                    new byte[0], 0, 1_000_000);
            assertEquals(EmuTestRig.Stop.HALT, r.stop());
            assertEquals(250_000, r.state().gpr()[0]);
            CpuStatistics stats = rig.statistics();
            String entries = "threshold " + threshold + ": " + stats.linkedEntries() + " linked entries, "
                    + stats.lookups() + " lookups";
            if (OUTCOME_ONLY) continue;
            if (threshold == 0) assertTrue(stats.linkedEntries() >= 500 && stats.lookups() <= 10, entries);
            else assertTrue(stats.linkedEntries() + stats.lookups() <= 20, entries);
        }
    }

    @Test
    void aLoopSplitAtAPageEndRunsAsOneCompiledRegionAndMatchesTheInterpreter() {
        // mov ecx, 1000; mov r15, DATA; NOPs up to 0xff8; L: add rax, rcx; mov r14, [r15]; add rbx, r14 (it
        // crosses the page end, so it ends the first block); add rdx, 1; dec ecx; jnz L: the loop is two
        // blocks, one per page, as the kernel's hottest boot loop is. Compiled, the second block is a member
        // of the first one's region: a pass goes from one to the other and back inside one JVM method.
        // replays(true) compares decoded, replayed and compiled runs in every register and flag.
        String prologue = "b9e8030000" + "49c7c700002000";
        String code = prologue + "90".repeat(0xff8 - prologue.length() / 2)
                + "4801c8" + "4d8b37" + "4c01f3" + "4883c201" + "ffc9" + "75ef";
        byte[] data = new byte[EmuTestRig.DATA_SIZE];
        data[0] = 7;
        long members = BlockCompiler.regionMembers();
        EmuTestRig rig = new EmuTestRig().replays(true);
        EmuTestRig.Result r = rig.run(HexFormat.of().parseHex(code), EmuTestRig.State.of(new long[16], 2), data, 0,
                1_000_000);
        assertEquals(EmuTestRig.Stop.END, r.stop());
        assertEquals(500_500, r.state().gpr()[0], "sum of 1..1000");
        assertEquals(7_000, r.state().gpr()[3]);
        assertEquals(1_000, r.state().gpr()[2]);
        assertTrue(BlockCompiler.regionMembers() > members, "a region with a member on the next page was compiled");
        CpuStatistics stats = rig.statistics();
        // 64-instruction slices: a region entry per slice, against two block entries per pass without it
        // (the counts of the rig's three block runs: 6,000 entries without the region)
        assertTrue(OUTCOME_ONLY || stats.linkedEntries() + stats.lookups() < 750, "the loop ran inside its region: "
                + stats.linkedEntries() + " linked entries, " + stats.lookups() + " lookups");
    }

    @Test
    void aLoopOfTwoBlocksReturnsToTheDispatcherWithinItsSlice() {
        // L: add rax, 1; jmp S; hlt; S: add rbx, 1; jmp L: a loop without end over two blocks, compiled as one
        // region. A branch from one member to another is taken only while the member's whole pass still fits
        // the slice, so each slice of 1,000 instructions returns to the dispatcher after exactly 1,000.
        long members = BlockCompiler.regionMembers();
        EmuTestRig rig = new EmuTestRig().slices(1000).compileThreshold(1);
        EmuTestRig.Result r = rig.run(HexFormat.of().parseHex("4883c001" + "eb01" + "f4" + "4883c301" + "ebf3"),
                EmuTestRig.State.of(new long[16], 2), new byte[0], 0, 100_000);
        assertEquals(EmuTestRig.Stop.BUDGET, r.stop());
        assertEquals(100_000, r.instructions(), "no slice ran past its budget");
        assertEquals(25_000, r.state().gpr()[0], "one add per pass of L");
        assertEquals(25_000, r.state().gpr()[3], "one add per pass of S");
        assertTrue(BlockCompiler.regionMembers() > members, "the two blocks were compiled as one region");
        assertTrue(OUTCOME_ONLY || rig.statistics().compiledInstructions() > 90_000, "compiled: " + rig.statistics().compiledInstructions());
    }

    @Test
    void aStoreIntoAMemberOfACompiledRegionTakesEffectAtItsNextRun() {
        // mov ecx, 20; O: mov edx, 3; H: dec edx; jnz H; M: mov eax, 1; add ebx, eax; call P; dec ecx; jnz O;
        // hlt; NOPs to the next page; P: cmp ecx, 16; ja R; add byte [rip-0xffd] (the immediate of M's mov), 1;
        // R: ret. The self-loop H is compiled with M, which it falls into, as a member of its region; from the
        // fifth pass on P (on another page, so outside the region) rewrites M between two runs of H's region,
        // whose page version check must then compare M's bytes too. Passes 1-5 add 1, pass k > 5 adds k - 4.
        String main = "b914000000" + "ba03000000" + "ffca" + "75fc" + "b801000000" + "01c3" + "e8e60f0000" + "ffc9"
                + "75e7" + "f4";
        String code = main + "90".repeat(0x1000 - main.length() / 2) + "83f910" + "7707" + "800503f0ffff01" + "c3";
        for (long threshold : new long[] {0, 1, 2, -1}) {
            long members = BlockCompiler.regionMembers();
            EmuTestRig.State start = new EmuTestRig.State(registersWithStack(), 2, EmuTestRig.CODE_BASE, new long[32]);
            EmuTestRig.Result r = new EmuTestRig().slices(4096).compileThreshold(threshold)
                    .run(HexFormat.of().parseHex(code), start, new byte[0], 0, 10_000_000);
            assertEquals(EmuTestRig.Stop.HALT, r.stop(), "threshold " + threshold);
            assertEquals(16, r.state().gpr()[0], "threshold " + threshold);
            assertEquals(140, r.state().gpr()[3], "threshold " + threshold + ": 5 x 1 + 2 + ... + 16");
            if (threshold > 0) assertTrue(BlockCompiler.regionMembers() > members, "threshold " + threshold + ": a region");
        }
    }

    private static long[] registersWithStack() {
        long[] gpr = new long[16];
        gpr[4] = EmuTestRig.STACK_TOP;
        return gpr;
    }

    @Test
    void aCompiledSelfLoopMatchesTheInterpreterInEveryRegisterAndFlag() {
        // mov ecx, 5000; mov rbx, ...; mov rdx, ...; L: adc rax, rbx; rol rbx, 5; add rbx, rcx; mov rsi, rbx;
        // imul rsi, rdx; xor rdx, rsi; lea rdi, [rax+rbx*2+7]; shr rdi, 3; sub rax, rdi; test cl, 3; jz L2;
        // neg rdx; sbb rsi, rax; setc r8b; add r9, r8; L2: cmovs r10, rax; dec ecx; jnz L.
        // The block at L branches back to its own start, so compiled it runs as a JVM loop; the carry of
        // SUB (or NEG/SBB/ADD) crosses DEC and the back edge into the next pass's ADC. replays(true)
        // compares decoded, replayed and compiled runs in every register and flag.
        String code = "b98813000048bbefcdab896745230148c7c2ffffff7f4811d848c1c3054801cb4889de480faff24831f2"
                + "488d7c580748c1ef034829f8f6c103740d48f7da4819c6410f92c04d01c14c0f48d0ffc975c6";
        EmuTestRig rig = new EmuTestRig().replays(true);
        EmuTestRig.Result r = rig.run(HexFormat.of().parseHex(code), EmuTestRig.State.of(new long[16], 2),
                new byte[EmuTestRig.DATA_SIZE], 0, 1_000_000);
        assertEquals(EmuTestRig.Stop.END, r.stop());
        assertEquals(0, r.state().gpr()[1], "the loop ran to its end");
        assertTrue(rig.statistics().compiledInstructions() > 50_000, "compiled: " + rig.statistics().compiledInstructions());
    }

    @Test
    void theLargestBlockCompilesToAMethodTheJitStillCompiles() {
        // mov r15, DATA; mov ecx, 100; L: add r, 1 for 13 registers; 47 stores of them to [r15+8k]; dec ecx;
        // jnz L; hlt: a 62-instruction self-loop with every register in a local and an exit after each store
        // (each storing all of them back). Its run method must stay under HotSpot's huge-method limit.
        String code = "49c7c700002000b9640000004883c0014883c3014883c2014883c6014883c7014883c5014983c0014983c1014983c201"
                + "4983c3014983c4014983c5014983c60149890749895f08498957104989771849897f2049896f284d8947304d894f384d"
                + "8957404d895f484d8967504d896f584d8977604989476849895f70498957784989b7800000004989bf880000004989af"
                + "900000004d8987980000004d898fa00000004d8997a80000004d899fb00000004d89a7b80000004d89afc00000004d89"
                + "b7c8000000498987d000000049899fd8000000498997e00000004989b7e80000004989bff00000004989aff80000004d"
                + "8987000100004d898f080100004d8997100100004d899f180100004d89a7200100004d89af280100004d89b730010000"
                + "4989873801000049899f40010000498997480100004989b7500100004989bf580100004989af600100004d8987680100"
                + "004d898f70010000ffc90f85acfeffff" + "f4";
        EmuTestRig rig = new EmuTestRig().slices(4096).compileThreshold(1);
        EmuTestRig.Result r = rig.run(HexFormat.of().parseHex(code), EmuTestRig.State.of(new long[16], 2),
                new byte[0], 0, 1_000_000);
        assertEquals(EmuTestRig.Stop.HALT, r.stop());
        assertEquals(100, r.state().gpr()[0], "one add per pass");
        assertTrue(OUTCOME_ONLY || rig.statistics().compiledInstructions() > 5_000, "the loop ran compiled: "
                + rig.statistics().compiledInstructions());
        assertTrue(BlockCompiler.largestMethod() <= BlockCompiler.MAX_METHOD_BYTES,
                "largest generated method: " + BlockCompiler.largestMethod() + " bytes");
    }
    @Test
    void conditionsReadAfterCompareTestAndArithmeticMatchTheInterpreterInCompiledBlocks() {
        // For each flag-setting instruction (CMP, TEST, ADD, AND, SUB, XOR, OR, NEG at 64/32/16/8 bits, CMP
        // with an immediate) and each of the 16 conditions: the instruction, then SETcc r8b; shl r9, 1;
        // or r9, r8 (all conditions as a bit string in R9), and the instruction, then Jcc over an
        // inc r10. replays(true) compares the compiled blocks (where flag setters and condition readers are
        // inlined bytecode, some with their flags dropped as dead) with the interpreter, for operand pairs
        // at the signed and unsigned boundaries of each size.
        String[] ops = {"4839d8", "39d8", "4885d8", "85d8", "4889c14801d9", "4889c14821d9", "4889c129d9", "4883f8ff",
                "6639d8", "38d8", "4889c14831d9", "4889c14809d9", "4889c148f7d9"};
        StringBuilder code = new StringBuilder();
        for (String op : ops) {
            for (int cc = 0; cc < 16; cc++) code.append(op).append(String.format("410f%02xc0", 0x90 + cc)).append("49d1e14d09c1");
        }
        for (String op : ops) {
            for (int cc = 0; cc < 16; cc++) code.append(op).append(String.format("%02x03", 0x70 + cc)).append("49ffc2");
        }
        long[][] pairs = {{0, 0}, {1, 2}, {2, 1}, {-1, 1}, {1, -1}, {0x7FFF_FFFFL, 0x8000_0000L}, {0x8000_0000L, 0x7FFF_FFFFL},
                {Long.MIN_VALUE, 1}, {1, Long.MIN_VALUE}, {Long.MAX_VALUE, -1}, {0x1_0000_0000L, 0}, {0xFFFF_FFFFL, 0xFFFF_FFFFL},
                {0x7F, 0x80}, {0x80, 0x80}, {0x8000, 0x7FFF}, {0xFF00, 0x00FF}, {-1, -1}};
        long compiled = 0;
        for (long[] pair : pairs) {
            long[] gpr = new long[16];
            gpr[0] = pair[0];
            gpr[3] = pair[1];
            EmuTestRig rig = new EmuTestRig().replays(true);
            EmuTestRig.Result r = rig.run(HexFormat.of().parseHex(code), EmuTestRig.State.of(gpr, 2),
                    new byte[EmuTestRig.DATA_SIZE], 0, 1_000_000);
            assertEquals(EmuTestRig.Stop.END, r.stop(), "operands " + pair[0] + ", " + pair[1]);
            compiled += rig.statistics().compiledInstructions();
        }
        assertTrue(compiled > 1_000 * pairs.length, "ran compiled: " + compiled);
    }
    @Test
    void inlinedPushAndPopKeepTheStackPointerRulesInCompiledBlocks() {
        // push rbx; push rsp; pop rdx; lea rdx, [rdx+8]; push rdx; pop rsp; push rbx; pop rdi: PUSH RSP stores
        // the old RSP, POP RSP ends with the popped value (not the incremented RSP). Compiled blocks do
        // PUSH and POP as inlined bytecode on RSP held in a JVM local; replays(true) compares them with the
        // interpreter.
        long[] gpr = new long[16];
        gpr[3] = 0x1122_3344_5566_7788L;
        gpr[4] = EmuTestRig.STACK_TOP;
        EmuTestRig.Result r = new EmuTestRig().replays(true).run(HexFormat.of().parseHex("53545a488d5208525c535f"),
                EmuTestRig.State.of(gpr, 2), new byte[EmuTestRig.DATA_SIZE], 0, 1_000);
        assertEquals(EmuTestRig.Stop.END, r.stop());
        // POP RSP leaves RSP = STACK_TOP (the value pushed), and the last push/pop pair returns to it; had it
        // kept the incremented RSP instead, RSP would end 8 lower.
        assertEquals(EmuTestRig.STACK_TOP, r.state().gpr()[4], "POP RSP loads the value pushed");
        assertEquals(gpr[3], r.state().gpr()[7]);

        // L: mov rsp, rax; push rbx; add rax, rcx; jmp L. The first pass pushes; the second, from the block
        // compiled by then, pushes at a non-canonical RSP - 8: #SS, with RSP as the MOV left it.
        long bad = 0x8000_0000_0000_0000L;
        gpr[0] = EmuTestRig.STACK_TOP;
        gpr[1] = bad - EmuTestRig.STACK_TOP;
        EmuTestRig rig = new EmuTestRig().replays(true);
        r = rig.run(HexFormat.of().parseHex("4889c4534801c8ebf7"), EmuTestRig.State.of(gpr, 2),
                new byte[EmuTestRig.DATA_SIZE], 0, 1_000);
        assertEquals(EmuTestRig.Stop.FAULT, r.stop());
        assertEquals(GuestFault.SS, r.faultVector());
        assertEquals(bad, r.state().gpr()[4], "RSP unchanged by the faulting push");
        assertTrue(rig.statistics().blocksCompiled() >= 1, "the loop block (with its push) was compiled");
    }
}
