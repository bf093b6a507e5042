package dev.flint.engine.emu.diff;

import java.util.Random;

/** Operand values biased toward the edges where flag logic goes wrong. */
final class Values {
    private static final long[] EDGES = {
        0, 1, 2, -1, -2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x1_0000, 0x7FFF_FFFFL, 0x8000_0000L,
        0xFFFF_FFFFL, 0x1_0000_0000L, Long.MAX_VALUE, Long.MIN_VALUE, 0x8000_0000_0000_0001L, 0x0F, 0x10, 0xF0};

    private Values() {}

    /** A value whose low {@code size} bytes are interesting; the rest random (to catch merge bugs). */
    static long random(Random rnd, int size) {
        long v = switch (rnd.nextInt(6)) {
            case 0, 1 -> rnd.nextLong();
            case 2 -> EDGES[rnd.nextInt(EDGES.length)];
            case 3 -> {
                // an edge at this operand size, so 8/16/32-bit carries and overflows happen
                long sign = 1L << (size * 8 - 1);
                long[] e = {sign, sign - 1, sign + 1, 2 * sign - 1, 0, 1};
                yield e[rnd.nextInt(e.length)] | (rnd.nextLong() << (size * 8 - 1) << 1);
            }
            case 4 -> rnd.nextInt(256) - 128;
            default -> rnd.nextLong() >>> rnd.nextInt(64);
        };
        return v;
    }

    /** An immediate of {@code bytes} bytes (sign-extended into a long). */
    static long imm(Random rnd, int bytes) {
        long v = random(rnd, bytes);
        return switch (bytes) {
            case 1 -> (byte) v;
            case 2 -> (short) v;
            case 4 -> (int) v;
            default -> v;
        };
    }
}
