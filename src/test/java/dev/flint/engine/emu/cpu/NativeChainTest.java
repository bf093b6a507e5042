package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.EmuTestRig;
import dev.flint.engine.emu.nativecode.CodeCache;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.util.HexFormat;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Native blocks chained in host code ({@link NativeChains}): loops of translated blocks run without returning to
 * Java and give the interpreter's outcome; the budget, checked at each block head, still ends a run of an endless
 * native loop within the slice and exactly at a block boundary; code changed by Java or by the guest itself is
 * what the next run executes; a flush of the code cache forgets every chain.
 */
class NativeChainTest {
    private static final HexFormat HEX = HexFormat.of();

    @BeforeEach
    void nativeHost() {
        assumeTrue(CodeCache.unavailableReason().isEmpty(), () -> CodeCache.unavailableReason().orElseThrow());
    }

    private static long[] registers(Random rnd) {
        long[] gpr = new long[16];
        long[] edges = {0, 1, -1, 0x7F, 0x80, 0xFF, 0x7FFF_FFFFL, 0x8000_0000L, 0xFFFF_FFFFL, Long.MIN_VALUE, Long.MAX_VALUE};
        for (int i = 0; i < 16; i++) gpr[i] = rnd.nextInt(3) == 0 ? edges[rnd.nextInt(edges.length)] : rnd.nextLong();
        return gpr;
    }

    private static long randomFlags(Random rnd) {
        long f = 2;
        for (long bit : new long[] {Flags.CF, Flags.PF, Flags.AF, Flags.ZF, Flags.SF, Flags.OF}) {
            if (rnd.nextBoolean()) f |= bit;
        }
        return f;
    }

    /**
     * The branchy loop of {@code InterpreterBenchmark} (two blocks entered in turn) with every run compared to the
     * decoding CPU ({@code replays(true)}): its exits are chained, and almost all of its instructions run in host
     * code.
     */
    @Test
    void aChainedTwoBlockLoopGivesTheInterpretersOutcome() {
        byte[] code = HEX.parseHex("b9e8030000" + "31c0" + "f6c101" + "7402" + "01c8" + "ffc9" + "75f5");
        EmuTestRig rig = new EmuTestRig().nativeTier(true).replays(true);
        var r = rig.run(code, EmuTestRig.State.of(registers(new Random(1)), 2 | Flags.CF), new byte[0], 0);
        assertEquals(250_000, r.state().gpr()[0], "eax: the sum of the odd numbers 1..999");
        NativeChains chains = rig.cpu().nativeChains();
        assertTrue(chains.made() >= 2, "exits chained: " + chains.made());
        assertTrue(rig.statistics().nativeInstructions() > 2_900, "native: " + rig.statistics().nativeInstructions());
    }

    /**
     * A loop whose load meets a page it has not touched at every pass: each native run's soft-TLB miss exits to Java
     * before the load (no instruction done), and Java does the access. Such an exit is never chained: chained to the
     * block it left, it would meet the same miss again for ever without taking anything off the budget, and the
     * vCPU thread would never come back from host code (the timeout catches that).
     */
    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) // a loop in host code cannot be interrupted
    void aSoftTlbMissIsNeverChained() {
        // L: mov rax, cr3; mov cr3, rax (a TLB flush); jmp M (over an int3, so that M is a block of its own)
        // M: mov [rbx], rcx; add rdx, [rbx]; add rbx, 0x1000; dec ecx; jnz L
        // Every pass enters M from Java with an empty TLB: its store misses before any instruction is done.
        byte[] code = HEX.parseHex("0f20d8" + "0f22d8" + "eb01cc" + "48890b" + "480313" + "4881c300100000" + "ffc9" + "75e6");
        int pages = 16;
        long[] gpr = new long[16];
        gpr[1] = pages;                  // rcx
        gpr[3] = EmuTestRig.DATA_BASE;   // rbx
        EmuTestRig rig = new EmuTestRig().nativeTier(true).replays(true);
        var r = rig.run(code, EmuTestRig.State.of(gpr, 2), new byte[0], 0);
        assertEquals(EmuTestRig.Stop.END, r.stop());
        assertEquals(136, r.state().gpr()[2], "rdx: 16 + 15 + ... + 1, stored and loaded back on each page");
        assertTrue(rig.statistics().nativeInstructions() > 0, "some passes ran natively");
    }

    /**
     * Random loops of register-only blocks: a counter in ECX around 1-4 blocks of random ALU, MOV, INC/DEC, TEST
     * and LEA forms on every register but RCX and RSP (R15 included, which lives in the state), in 32 and 64 bits,
     * with random forward JCCs and JMPs between them; random registers and flags. Every run (building, replaying,
     * chained) must equal the decoding CPU's.
     */
    @Test
    void randomChainedLoopsGiveTheInterpretersOutcome() {
        int programs = Integer.getInteger("flint.native.chain.cases", 300);
        Random rnd = new Random(Long.getLong("flint.native.chain.seed", 20261207L));
        long chained = 0, nativeRun = 0, all = 0;
        for (int p = 0; p < programs; p++) {
            byte[] code = randomLoop(rnd);
            EmuTestRig rig = new EmuTestRig().nativeTier(true).replays(true);
            try {
                var r = rig.run(code, EmuTestRig.State.of(registers(rnd), randomFlags(rnd)), new byte[0], 0);
                assertEquals(EmuTestRig.Stop.END, r.stop());
            } catch (IllegalStateException e) {
                throw new AssertionError("program " + p + " " + HEX.formatHex(code) + ": " + e.getMessage(), e);
            }
            chained += rig.cpu().nativeChains().made();
            nativeRun += rig.statistics().nativeInstructions();
            all += rig.statistics().instructions();
        }
        System.out.printf("native chains: %d programs, %d exits chained, %d of %d instructions native%n", programs,
                chained, nativeRun, all);
        assertTrue(chained > programs, "exits chained: " + chained);
        assertTrue(nativeRun > all / 2, "native " + nativeRun + " of " + all);
    }

    /** Registers the random ops may use: all but RCX (the counter) and RSP. */
    private static final int[] REGS = {0, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

    private static byte[] randomLoop(Random rnd) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int count = 1 + rnd.nextInt(40);
        out.writeBytes(new byte[] {(byte) 0xB9, (byte) count, 0, 0, 0}); // mov ecx, count
        int top = out.size();
        int ops = 2 + rnd.nextInt(14);
        java.util.List<byte[]> body = new java.util.ArrayList<>();
        for (int i = 0; i < ops; i++) body.add(randomOp(rnd));
        for (int i = 0; i < body.size(); i++) {
            byte[] op = body.get(i);
            out.writeBytes(op);
            if (i + 1 < body.size() && rnd.nextInt(4) == 0) { // skip the next op: a JCC or JMP rel8 over it
                int len = body.get(i + 1).length;
                out.writeBytes(rnd.nextInt(4) == 0 ? new byte[] {(byte) 0xEB, (byte) len}
                        : new byte[] {(byte) (0x70 | rnd.nextInt(16)), (byte) len});
            }
        }
        out.writeBytes(new byte[] {(byte) 0xFF, (byte) 0xC9}); // dec ecx
        int rel = top - (out.size() + 6);
        out.writeBytes(new byte[] {0x0F, (byte) 0x85, (byte) rel, (byte) (rel >> 8), (byte) (rel >> 16), (byte) (rel >> 24)});
        return out.toByteArray();
    }

    private static byte[] randomOp(Random rnd) {
        int d = REGS[rnd.nextInt(REGS.length)], s = REGS[rnd.nextInt(REGS.length)], x = REGS[rnd.nextInt(REGS.length)];
        boolean w = rnd.nextBoolean();
        int rex = 0x40 | (w ? 8 : 0);
        switch (rnd.nextInt(4)) {
            case 0 -> { // op r/m, r: ADD OR ADC SBB AND SUB XOR CMP MOV TEST
                int[] opcodes = {0x01, 0x09, 0x11, 0x19, 0x21, 0x29, 0x31, 0x39, 0x89, 0x85};
                int op = opcodes[rnd.nextInt(opcodes.length)];
                return new byte[] {(byte) (rex | (s >> 3) << 2 | d >> 3), (byte) op, (byte) (0xC0 | (s & 7) << 3 | (d & 7))};
            }
            case 1 -> { // 83 /ext r/m, imm8
                return new byte[] {(byte) (rex | d >> 3), (byte) 0x83, (byte) (0xC0 | rnd.nextInt(8) << 3 | (d & 7)),
                        (byte) rnd.nextInt(256)};
            }
            case 2 -> { // INC/DEC r/m
                return new byte[] {(byte) (rex | d >> 3), (byte) 0xFF, (byte) (0xC0 | rnd.nextInt(2) << 3 | (d & 7))};
            }
            default -> { // lea d, [s + x*scale + disp8]
                return new byte[] {(byte) (rex | (d >> 3) << 2 | (x >> 3) << 1 | s >> 3), (byte) 0x8D,
                        (byte) (0x44 | (d & 7) << 3), (byte) (rnd.nextInt(4) << 6 | (x & 7) << 3 | (s & 7)),
                        (byte) rnd.nextInt(256)};
            }
        }
    }

    /**
     * An endless native loop ({@code L: add eax, 1; jmp L}, one block chained to itself): each {@code execute}
     * returns after exactly its budget (even budgets: the block is two instructions), with RIP at the block's head
     * and EAX counting every iteration. Without the budget check in host code the first call would never return
     * (the vCPU thread would never look at its interrupts again).
     */
    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) // a loop in host code cannot be interrupted
    void theBudgetEndsAnEndlessChainedLoopAtABlockBoundary() {
        byte[] code = HEX.parseHex("83c001" + "ebfb");
        new EmuTestRig().nativeTier(true).session(code, EmuTestRig.State.of(new long[16], 2), 0, s -> {
            long total = 0;
            for (int call = 0; call < 200; call++) {
                long before = s.cpu().statistics().instructions();
                assertEquals(Cpu.EXIT_BUDGET, s.cpu().execute(1_000));
                long ran = s.cpu().statistics().instructions() - before;
                total += ran;
                assertEquals(EmuTestRig.CODE_BASE, s.state().rip, "at the block's head");
                assertTrue(ran >= 1_000 && ran <= 1_001, "instructions in a slice of 1,000: " + ran);
                assertEquals(total / 2, s.state().gpr[0], "one add per two instructions");
            }
            assertTrue(s.cpu().statistics().nativeInstructions() > 190_000, "native: " + s.cpu().statistics().nativeInstructions());
            assertTrue(s.cpu().nativeChains().made() >= 1);
            return null;
        });
    }

    /**
     * Self-modifying code through the guest's own (replayed) store: three passes of a loop, each pass ending with
     * the guest writing its outer counter (3, then 2) into the immediate of {@code add eax, 1}. Block O is entered
     * from Java at every pass with its bytes unchanged, and from the second pass on it is chained to the loop
     * block H translated then: at the third pass its chains must be dropped, or the loop runs the second pass's
     * {@code add eax, 3} again.
     *
     * <pre>
     *     mov edx, 3 ; test edx, edx ; jnz O ; int3   (taken past a byte: the block ends there)
     * O:  mov ecx, 100 ; test ecx, ecx ; jnz H ; int3
     * H:  add eax, 1 ; dec ecx ; jnz H                    (the immediate: H + 2)
     *     mov [rip + (H + 2 - next)], dl ; dec edx ; jnz O ; hlt
     * </pre>
     */
    @Test
    void aGuestStoreIntoChainedCodeRunsTheNewBytesNextTime() {
        // 0: ba 03000000 | 5: 85 d2 | 7: 75 01 (to 10) | 9: cc | 10: b9 64000000 | 15: 85 c9 | 17: 75 01 (to 20) | 19: cc
        // 20: 83 c0 01 (imm at 22) | 23: ff c9 | 25: 75 f9 (to 20) | 27: 88 15 rel32 (ends at 33: rel -11)
        // 33: ff ca | 35: 75 e5 (to 10) | 37: f4
        byte[] code = HEX.parseHex("ba03000000" + "85d2" + "7501" + "cc" + "b964000000" + "85c9" + "7501" + "cc" + "83c001"
                + "ffc9" + "75f9" + "8815f5ffffff" + "ffca" + "75e5" + "f4");
        new EmuTestRig().nativeTier(true).session(code, EmuTestRig.State.of(new long[16], 2), 0, s -> {
            runTo(s, EmuTestRig.CODE_BASE + code.length);
            assertEquals(100 * 1 + 100 * 3 + 100 * 2, s.state().gpr[0], "each pass ran the bytes stored before it");
            assertTrue(s.cpu().nativeChains().dropped() > 0, "chains dropped: " + s.cpu().nativeChains().dropped());
            assertTrue(s.cpu().statistics().nativeInstructions() > 500, "native: " + s.cpu().statistics().nativeInstructions());
            return null;
        });
    }

    /**
     * Java stores into chained code between two runs on one CPU (as a device or the loader would): the second run
     * executes the new immediate. The first block of the second run is unchanged and still chained to the old
     * loop blocks.
     */
    @Test
    void aJavaStoreIntoChainedCodeRunsTheNewBytesNextTime() {
        // 0: b9 e8030000 | 5: eb 03 | 7: 83 c0 01 (imm at 9) | 10: ff c9 | 12: 75 f9 (to 7) | 14: hlt
        byte[] code = HEX.parseHex("b9e8030000" + "eb03" + "83c001" + "ffc9" + "75f9" + "f4");
        int cpl = 0;
        EmuTestRig.State initial = EmuTestRig.State.of(new long[16], 2);
        new EmuTestRig().nativeTier(true).session(code, initial, cpl, s -> {
            long end = EmuTestRig.CODE_BASE + code.length; // after the HLT
            runTo(s, end);
            assertEquals(999, s.state().gpr[0]);
            long made = s.cpu().nativeChains().made();
            assertTrue(made >= 1, "chained: " + made);
            s.memory().writeByte(EmuTestRig.CODE_BASE + 9, (byte) 3); // add eax, 3
            restart(s, initial, cpl);
            runTo(s, end);
            assertEquals(3 * 999, s.state().gpr[0], "the second run ran the new immediate");
            return null;
        });
    }

    /** A flush of the code cache between runs: every chain is forgotten, and the code runs (and chains) anew. */
    @Test
    void aFlushDropsEveryChain() {
        byte[] code = HEX.parseHex("b9e8030000" + "31c0" + "f6c101" + "7402" + "01c8" + "ffc9" + "75f5" + "f4");
        EmuTestRig.State initial = EmuTestRig.State.of(new long[16], 2);
        new EmuTestRig().nativeTier(true).session(code, initial, 0, s -> {
            long end = EmuTestRig.CODE_BASE + code.length; // after the HLT
            runTo(s, end);
            assertEquals(250_000, s.state().gpr[0]);
            NativeChains chains = s.cpu().nativeChains();
            assertTrue(chains.live() >= 2, "live chains: " + chains.live());
            long made = chains.made();
            s.cpu().nativeCache().flush();
            assertEquals(0, chains.live(), "no chain outlives a flush");
            restart(s, initial, 0);
            runTo(s, end);
            assertEquals(250_000, s.state().gpr[0]);
            assertTrue(chains.made() >= made + 2, "chained again: " + (chains.made() - made));
            assertTrue(s.cpu().nativeCache().generation() == 1);
            return null;
        });
    }

    /** The state back at {@code initial}, not halted, for a second run on the same CPU. */
    private static void restart(EmuTestRig.Session s, EmuTestRig.State initial, int cpl) {
        EmuTestRig.reset(s, initial, cpl);
        s.state().halted = false;
    }

    /** Runs slices of 64 instructions, as the engine does, until the code's final HLT (RIP then {@code end}). */
    private static void runTo(EmuTestRig.Session s, long end) {
        int exit = -1;
        for (int i = 0; i < 100_000 && exit != Cpu.EXIT_HALT; i++) exit = s.cpu().execute(64);
        assertEquals(Cpu.EXIT_HALT, exit, "ran to the HLT");
        assertEquals(end, s.state().rip, "stopped after the HLT");
    }
}
