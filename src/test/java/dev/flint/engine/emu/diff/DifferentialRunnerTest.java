package dev.flint.engine.emu.diff;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The comparison must be able to fail: the host CPU agrees with itself on every group (so the
 * generator's cases are deterministic once undefined flags are masked), and a CPU that gets one defined
 * flag or one data byte wrong is caught.
 */
class DifferentialRunnerTest extends HostCpuTest {
    @Test
    void hostAgreesWithItselfOnEveryGroup() throws Exception {
        DifferentialRunner runner = new DifferentialRunner(host, (layout, c) -> host.run(c.code(), c.initial()));
        for (Group g : Group.values()) {
            runner.run(g, 99, 20);
        }
        assertEquals(0, runner.generatorBugs().size(), () -> String.join("\n", runner.generatorBugs()));
        assertEquals(0, runner.divergences().size(), () -> String.join("\n", runner.divergences()));
        for (Group g : Group.values()) {
            assertTrue(runner.stats().get(g).instructions >= 20, g + " compared too little");
        }
    }

    @Test
    void wrongDefinedFlagIsCaught() throws Exception {
        DifferentialRunner runner = new DifferentialRunner(host, (layout, c) -> {
            CpuState s = host.run(c.code(), c.initial());
            long defined = c.flagMask() & Flags.STATUS;
            s.rflags ^= Long.lowestOneBit(defined == 0 ? Flags.DF : defined);
            return s;
        });
        runner.run(Group.ALU, 5, 10);
        assertEquals(10, runner.divergences().size());
    }

    @Test
    void wrongDataByteIsCaught() throws Exception {
        DifferentialRunner runner = new DifferentialRunner(host, (layout, c) -> {
            CpuState s = host.run(c.code(), c.initial());
            s.data[Layout.DATA_SIZE - 1] ^= 1;
            return s;
        });
        runner.run(Group.STACK, 5, 5);
        assertEquals(5, runner.divergences().size());
        assertTrue(runner.divergences().get(0).contains("data+0xff8"), runner.divergences().get(0));
    }
}
