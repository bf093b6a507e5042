package dev.flint.engine.emu.cpu;

import dev.flint.arch.x86.CpuBootState;
import dev.flint.arch.x86.Segment;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Pause-loop exiting: a vCPU that spins on PAUSE gives up its host thread once per window of PAUSEs, in every
 * tier that runs the loop, and never when the PAUSEs are far apart or the machine has one vCPU.
 */
class PauseLoopExitTest {

    /** A clock the test moves by hand, and a yield that only counts. */
    private static final class Fake {
        long now;
        int yields;
        final PauseLoopExit ple = new PauseLoopExit(true, () -> now, () -> yields++);

        void pauses(int n, long apartNanos) {
            for (int i = 0; i < n; i++) {
                now += apartNanos;
                ple.pause();
            }
        }
    }

    @Test
    void aTightSpinLoopYieldsOncePerWindow() {
        Fake f = new Fake();
        f.pauses(PauseLoopExit.WINDOW * 3, 100);
        assertEquals(3, f.yields);
        assertEquals(3, f.ple.exits());
    }

    @Test
    void pausesFurtherApartThanTheGapNeverYield() {
        Fake f = new Fake();
        f.pauses(PauseLoopExit.WINDOW * 4, PauseLoopExit.GAP_NANOS + 1);
        assertEquals(0, f.yields);
    }

    @Test
    void aGapStartsTheWindowAgain() {
        Fake f = new Fake();
        f.pauses(PauseLoopExit.WINDOW - 1, 100);
        f.pauses(1, PauseLoopExit.GAP_NANOS * 10); // the loop was left: this PAUSE starts a new one
        f.pauses(PauseLoopExit.WINDOW - 2, 100);
        assertEquals(0, f.yields);
        f.pauses(1, 100);
        assertEquals(1, f.yields);
    }

    @Test
    void oneVcpuNeverYields() {
        assertEquals(0, spin(1, 0).exits);
    }

    @Test
    void theInterpreterReplayAndCompiledBlocksAllCountPause() {
        for (long threshold : new long[] {0, 1, 50_000}) { // replay only, compiled at once, replayed then compiled
            Spin s = spin(2, threshold);
            // Under load a PAUSE may come later than the gap after the one before (the thread was preempted),
            // which restarts a window; so at least a share of the windows must have yielded, not all.
            assertTrue(s.exits >= 1, "threshold " + threshold + ": " + s.exits + " yields in " + PASSES + " PAUSEs");
            assertTrue(s.exits <= PASSES / PauseLoopExit.WINDOW, "at most one yield per window: " + s.exits);
            assertEquals(0, s.rcx, "the loop ran to its end: PAUSE is still a NOP for the guest");
        }
        Spin decodedEachTime = spinWithoutBlocks();
        assertTrue(decodedEachTime.exits >= 1, "decoded each time: " + decodedEachTime.exits);
    }

    private static final int PASSES = 200_000;
    // mov ecx, PASSES; L: pause; dec ecx; jnz L; hlt
    private static final String PROGRAM = "b9400d0300" + "f390" + "ffc9" + "75fa" + "f4";

    private record Spin(long exits, long rcx) {}

    private static Spin spin(int cpus, long threshold) {
        return run(new SystemTestMachine(CpuOptions.defaults().withCompileThreshold(threshold), cpus));
    }

    private static Spin spinWithoutBlocks() {
        return run(new SystemTestMachine(CpuOptions.defaults().withBlockCache(false), 2));
    }

    private static Spin run(SystemTestMachine m) {
        try (m) {
            m.identityMap();
            m.load(0x8000, PROGRAM);
            m.cpu.boot(new CpuBootState(0, 0, 0, 0, 0, 0, 0x7000, 0, 0x8000, 2,
                    Segment.code64(0x08), Segment.data(0x10), Segment.data(0x10), Segment.data(0x10), Segment.data(0x10),
                    Segment.data(0x10), Segment.tss(0), Segment.unusable(), 0, 0, 0, 0,
                    CpuState.CR0_PE | CpuState.CR0_PG | CpuState.CR0_ET | CpuState.CR0_WP, SystemTestMachine.PML4,
                    CpuState.CR4_PAE, CpuState.EFER_LME | CpuState.EFER_LMA));
            m.runToHalt(PASSES * 3L + 10);
            assertTrue(m.cpu.halted(), "the program ran to its HLT");
            return new Spin(m.cpu.pauseLoopExits(), m.state.gpr[1]);
        }
    }
}
