package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.EmuTestRig;
import dev.flint.engine.emu.nativecode.CodeCache;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.HexFormat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The kick (docs/emu-native.md, "emuexit2"): native code may run past {@link Cpu#execute}'s slice up to a native
 * budget, and another thread's {@link Cpu#kick} ends such a run at the next chain entry; a kick raised at any moment,
 * before the run too, is never lost; without a kick the native budget still ends an endless loop.
 */
class NativeKickTest {
    private static final HexFormat HEX = HexFormat.of();
    /** {@code L: add qword [rbx], 1; jmp L}: one block chained to itself, counting its passes in RAM. */
    private static final byte[] LOOP = HEX.parseHex("48830301" + "ebfa");
    /** Far more than a kick needs: a lost kick runs the loop to here (about a second), and the count shows it. */
    private static final long LONG_RUN = 1L << 30;

    @BeforeEach
    void nativeHost() {
        assumeTrue(CodeCache.unavailableReason().isEmpty(), () -> CodeCache.unavailableReason().orElseThrow());
    }

    private static EmuTestRig.State start() {
        long[] gpr = new long[16];
        gpr[3] = EmuTestRig.DATA_BASE; // rbx
        return EmuTestRig.State.of(gpr, 2);
    }

    /**
     * A run allowed 2^30 native instructions past a slice of 1,000: another thread waits until the loop's count in RAM
     * shows it ran far past the slice (natively), then kicks; {@code execute} comes back at the block's head long
     * before the native budget, with the RAM count equal to the passes the instructions say.
     */
    @Test
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) // a loop in host code cannot be interrupted
    void aKickFromAnotherThreadEndsANativeRunPastTheSliceAtABlockBoundary() throws Exception {
        new EmuTestRig().nativeTier(true).session(LOOP, start(), 0, s -> {
            Thread kicker = Thread.ofPlatform().start(() -> {
                while (s.memory().readLong(EmuTestRig.DATA_BASE) < 2_000_000) Thread.onSpinWait();
                s.cpu().kick();
            });
            s.cpu().clearKick();
            long before = s.cpu().statistics().instructions();
            assertEquals(Cpu.EXIT_BUDGET, s.cpu().execute(1_000, LONG_RUN));
            long ran = s.cpu().statistics().instructions() - before;
            join(kicker);
            assertTrue(ran >= 4_000_000, "ran natively past the slice of 1,000 until the kick: " + ran);
            assertTrue(ran < LONG_RUN / 4, "the kick ended the run long before the native budget: " + ran);
            assertEquals(EmuTestRig.CODE_BASE, s.state().rip, "at the block's head");
            assertEquals(ran / 2, s.memory().readLong(EmuTestRig.DATA_BASE), "one add per two instructions");
            return null;
        });
    }

    /**
     * 200 runs, each kicked by another thread at a random moment: before the run starts, while Java enters it, or
     * while the native loop runs. Every run ends at a block boundary well before the native budget, and a kick left
     * over from one run is cleared before the next ({@link Cpu#clearKick}), which then runs again.
     */
    @Test
    @Timeout(value = 300, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aKickAtAnyMomentIsNeverLost() {
        java.util.Random rnd = new java.util.Random(20261207);
        new EmuTestRig().nativeTier(true).session(LOOP, start(), 0, s -> {
            for (int run = 0; run < 200; run++) {
                s.cpu().clearKick();
                long spin = rnd.nextInt(4) == 0 ? 0 : rnd.nextInt(200_000);
                Thread kicker = Thread.ofPlatform().start(() -> {
                    long until = System.nanoTime() + spin; // where the kick lands: any point is fine, none may be lost
                    while (System.nanoTime() < until) Thread.onSpinWait();
                    s.cpu().kick();
                });
                long before = s.cpu().statistics().instructions();
                s.cpu().execute(1_000, LONG_RUN);
                long ran = s.cpu().statistics().instructions() - before;
                join(kicker);
                assertTrue(ran < LONG_RUN / 4, "run " + run + ": the kick ended the run: " + ran);
                assertEquals(EmuTestRig.CODE_BASE, s.state().rip, "run " + run + ": at the block's head");
            }
            long total = s.cpu().statistics().instructions();
            assertEquals(total / 2, s.memory().readLong(EmuTestRig.DATA_BASE), "every pass counted once");
            assertTrue(s.cpu().statistics().nativeInstructions() > total / 2, "native: " + s.cpu().statistics().nativeInstructions());
            return null;
        });
    }

    /** With no kick the native budget ends the loop: exactly at it (even: two instructions a pass), at the block's head. */
    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void withoutAKickTheNativeBudgetEndsTheLoop() {
        new EmuTestRig().nativeTier(true).session(LOOP, start(), 0, s -> {
            s.cpu().clearKick();
            for (int call = 0; call < 20; call++) {
                long before = s.cpu().statistics().instructions();
                assertEquals(Cpu.EXIT_BUDGET, s.cpu().execute(1_000, 100_000));
                long ran = s.cpu().statistics().instructions() - before;
                assertTrue(ran >= 1_000 && ran <= 100_001, "call " + call + ": within the native budget: " + ran);
                if (call > 0) assertTrue(ran >= 99_000, "call " + call + ": ran natively to the native budget: " + ran);
                assertEquals(EmuTestRig.CODE_BASE, s.state().rip);
            }
            return null;
        });
    }

    private static void join(Thread t) {
        try {
            t.join();
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }
}
