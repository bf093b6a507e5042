package dev.flint.engine.emu.diff;

import java.io.IOException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * Runs generated cases on the host CPU (through {@link NativeCpuProcess}) and on a {@link SoftwareCpu},
 * compares the results under each case's defined-flag mask and keeps per-group counts.
 */
final class DifferentialRunner {
    /** What was compared in one group. */
    static final class GroupStats {
        int cases;
        int instructions;
        final List<String> divergences = new ArrayList<>();
    }

    private final NativeCpuProcess host;
    private final SoftwareCpu emu;
    private final Map<Group, GroupStats> stats = new EnumMap<>(Group.class);
    private final List<String> generatorBugs = new ArrayList<>();

    DifferentialRunner(NativeCpuProcess host, SoftwareCpu emu) {
        this.host = host;
        this.emu = emu;
    }

    void run(Group group, long seed, int count) throws IOException {
        Layout layout = host.layout();
        GroupStats g = stats.computeIfAbsent(group, k -> new GroupStats());
        for (int i = 0; i < count; i++) {
            TestCase c = group.generate(layout, seed, i);
            CpuState expected;
            try {
                expected = host.run(c.code(), c.initial());
            } catch (NativeCpuProcess.NativeCrash crash) {
                generatorBugs.add(crash.getMessage() + "\n" + c.describe());
                continue;
            }
            CpuState actual;
            try {
                actual = emu.run(layout, c);
            } catch (Exception | StackOverflowError e) {
                g.divergences.add(c.describe() + "\nsoftware CPU threw: " + e);
                continue;
            }
            g.cases++;
            g.instructions += c.tested();
            List<String> diff = expected.diff(actual, c.flagMask(), c.compareMxcsr());
            if (!diff.isEmpty()) {
                g.divergences.add(c.describe() + "\n" + String.join("\n", diff) + firstDivergent(layout, c));
            }
        }
    }

    /** Runs ever longer prefixes of a divergent straight-line case to name the first instruction that differs. */
    private String firstDivergent(Layout layout, TestCase c) {
        for (TestCase.Prefix p : c.prefixes()) {
            TestCase cut = c.cut(p);
            try {
                CpuState expected = host.run(cut.code(), cut.initial());
                if (!expected.diff(emu.run(layout, cut), cut.flagMask(), cut.compareMxcsr()).isEmpty()) {
                    return "\nfirst divergent instruction: " + p.lastInstruction();
                }
            } catch (Exception e) {
                return "\nfirst divergent instruction: " + p.lastInstruction() + " (" + e.getMessage() + ")";
            }
        }
        return "";
    }

    Map<Group, GroupStats> stats() {
        return stats;
    }

    List<String> generatorBugs() {
        return generatorBugs;
    }

    List<String> divergences() {
        List<String> all = new ArrayList<>();
        stats.values().forEach(s -> all.addAll(s.divergences));
        return all;
    }

    /** One line: instructions compared per group, cases and divergences. */
    String summary() {
        StringBuilder sb = new StringBuilder("differential: ");
        int total = 0;
        for (var e : stats.entrySet()) {
            GroupStats s = e.getValue();
            total += s.instructions;
            sb.append(String.format("%s=%d insns/%d cases%s, ", e.getKey(), s.instructions, s.cases,
                    s.divergences.isEmpty() ? "" : "/" + s.divergences.size() + " DIVERGENT"));
        }
        return sb.append("total ").append(total).append(" instructions").toString();
    }
}
