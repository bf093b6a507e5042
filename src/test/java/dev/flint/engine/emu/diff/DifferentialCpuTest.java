package dev.flint.engine.emu.diff;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;

/**
 * Runs generated instruction sequences on the host CPU and on Flint's software CPU and compares
 * registers, defined flags, MXCSR and the data page.
 *
 * <p>Fails on any divergence in a {@link #COVERED} group; other groups are run too and reported (their
 * divergences are the emu's to-do list). One line summarises the instructions compared per group.
 * Divergences are written in full to {@code target/differential-divergences.txt}.
 *
 * <p>Longer run: {@code mvn test -Dtest=DifferentialCpuTest -Dflint.diff.count=20000 -Dflint.diff.seed=7}
 * ({@code -Dflint.diff.groups=ALU,SHIFT} to pick groups).
 */
class DifferentialCpuTest {
    private static final Logger LOG = Logger.getLogger(DifferentialCpuTest.class.getName());

    /** Groups claimed as matching the host: a divergence here fails the build. */
    static final Set<Group> COVERED = EnumSet.of(Group.ALU, Group.SHIFT, Group.MULDIV, Group.BITS, Group.MOVES,
            Group.CONDITIONAL, Group.CONVERT, Group.STRING, Group.STACK, Group.ENCODING, Group.SSE_MOVE, Group.SSE_INT,
            Group.SSE_CVT, Group.MMX, Group.SELF_MODIFYING, Group.ALIASING, Group.EXCHANGE, Group.ADDR32,
            Group.SSE_FP, Group.X87);

    @Test
    void softwareCpuMatchesHostCpu() throws IOException {
        long seed = Long.getLong("flint.diff.seed", 20261123L);
        int count = Integer.getInteger("flint.diff.count", 300);
        String only = System.getProperty("flint.diff.groups", "");
        List<Group> groups = new ArrayList<>();
        for (Group g : Group.values()) {
            if (only.isBlank() || List.of(only.split(",")).contains(g.name())) {
                groups.add(g);
            }
        }
        DifferentialRunner runner;
        try (NativeCpuProcess host = new NativeCpuProcess(Layout.RIG)) {
            runner = new DifferentialRunner(host, new EmuRigCpu());
            for (Group g : groups) {
                runner.run(g, seed, count);
            }
        }
        LOG.info(runner.summary() + " (seed " + seed + ", " + count + " cases per group; covered: " + COVERED + "; "
                + dev.flint.engine.emu.cpu.Cpu.compileSummary() + ")");

        List<String> report = new ArrayList<>(runner.generatorBugs());
        report.addAll(runner.divergences());
        Path out = Path.of("target", "differential-divergences.txt");
        Files.createDirectories(out.getParent());
        Files.writeString(out, String.join("\n\n", report));

        assertEquals(List.of(), runner.generatorBugs(), "sequences that crashed the host CPU (generator bugs)");
        assertEquals(0, dev.flint.engine.emu.cpu.Cpu.blockCompileFailures(), "blocks the compiler failed on (see the log)");
        List<String> failures = new ArrayList<>();
        for (Group g : groups) {
            DifferentialRunner.GroupStats s = runner.stats().get(g);
            if (COVERED.contains(g)) {
                assertTrue(s.cases > 0, g + ": nothing compared");
                failures.addAll(s.divergences.stream().limit(3).toList());
                if (!s.divergences.isEmpty()) {
                    failures.add(g + ": " + s.divergences.size() + " divergent cases in total");
                }
            }
        }
        assertEquals("", String.join("\n\n", failures), "divergences in covered groups (all in " + out + ")");
    }
}
