package dev.flint.engine.emu.diff;

import java.util.HexFormat;

/**
 * One differential case: a sequence of instructions, the state it starts from, and what of the result
 * is architecturally defined (the status flags in {@code flagMask}; everything else is always compared).
 *
 * @param tested the number of instructions of {@code group} in the sequence (setup MOVs not counted)
 */
public record TestCase(String group, long seed, int index, byte[] code, String listing, CpuState initial,
                       long flagMask, boolean compareMxcsr, int tested) {
    public String describe() {
        return String.format("group %s, seed %d, case %d%nbytes: %s%n(objdump: echo %s | xxd -r -p > /tmp/s.bin;"
                        + " objdump -D -b binary -mi386:x86-64 /tmp/s.bin)%n%s%ninitial:%n%s",
                group, seed, index, HexFormat.ofDelimiter(" ").formatHex(code), HexFormat.of().formatHex(code),
                listing, initial);
    }
}
