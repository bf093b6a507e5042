package dev.flint.engine.emu.diff;

import java.util.HexFormat;
import java.util.List;

/**
 * One differential case: a sequence of instructions, the state it starts from, and what of the result
 * is architecturally defined (the status flags in {@code flagMask}; everything else is always compared).
 *
 * @param tested the number of instructions of {@code group} in the sequence (setup MOVs not counted)
 */
public record TestCase(String group, long seed, int index, byte[] code, String listing, CpuState initial,
                       long flagMask, boolean compareMxcsr, int tested, List<Prefix> prefixes) {
    /**
     * The sequence cut after one of its instructions, with the flags defined at that point; empty for
     * sequences with jumps (a cut could land a jump outside the code).
     */
    public record Prefix(int length, long flagMask, String lastInstruction) {}

    /** The case cut down to {@code p}. */
    public TestCase cut(Prefix p) {
        return new TestCase(group, seed, index, java.util.Arrays.copyOf(code, p.length()), listing, initial,
                p.flagMask(), compareMxcsr, tested, List.of());
    }

    public String describe() {
        return String.format("group %s, seed %d, case %d%nbytes: %s%n(objdump: echo %s | xxd -r -p > /tmp/s.bin;"
                        + " objdump -D -b binary -mi386:x86-64 /tmp/s.bin)%n%s%ninitial:%n%s",
                group, seed, index, HexFormat.ofDelimiter(" ").formatHex(code), HexFormat.of().formatHex(code),
                listing, initial);
    }
}
