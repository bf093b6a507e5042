package dev.flint.engine.emu.fpu;

import dev.flint.engine.emu.fpu.SoftFloat.Format;

import static dev.flint.engine.emu.fpu.PackedInteger.lane;
import static dev.flint.engine.emu.fpu.PackedInteger.lanes;
import static dev.flint.engine.emu.fpu.PackedInteger.setLane;

/**
 * SSE/SSE2 floating-point lane operations over a 128-bit vector ({@code long[2]}), single or double,
 * packed (every lane) or scalar (lane 0 only, the other lanes of the destination kept).
 */
final class PackedFloat {
    private PackedFloat() {
    }

    private static int laneCount(long[] v, Format f, boolean scalar) {
        return scalar ? 1 : lanes(v, f.width);
    }

    /** 0F 51..5F arithmetic (SQRT, RSQRT, RCP, ADD, MUL, SUB, MIN, DIV, MAX); false for other opcodes. */
    static boolean arithmetic(int opcode, long[] d, long[] s, Format f, boolean scalar, SoftFloat env) {
        if (opcode < 0x51 || opcode > 0x5F || opcode == 0x5A || opcode == 0x5B || (opcode >= 0x54 && opcode <= 0x57)) {
            return false;
        }
        int w = f.width;
        for (int i = 0, n = laneCount(d, f, scalar); i < n; i++) {
            long a = lane(d, i, w);
            long b = lane(s, i, w);
            long r = switch (opcode) {
                case 0x51 -> env.sqrt(b, f);
                case 0x52 -> approximateReciprocal(b, true);
                case 0x53 -> approximateReciprocal(b, false);
                case 0x58 -> env.add(a, b, f);
                case 0x59 -> env.mul(a, b, f);
                case 0x5C -> env.sub(a, b, f);
                case 0x5D -> env.minMax(a, b, f, false);
                case 0x5E -> env.div(a, b, f);
                case 0x5F -> env.minMax(a, b, f, true);
                default -> -1;
            };
            setLane(d, i, w, r);
        }
        return true;
    }

    /**
     * RCPPS/RSQRTPS. Hardware returns a table-driven approximation (relative error at most 1.5*2^-12) that
     * differs between vendors; Flint returns the correctly rounded single-precision value, which is within
     * that bound. Denormal inputs count as zero and tiny results flush to zero, as on hardware; MXCSR is
     * neither consulted nor updated.
     */
    static long approximateReciprocal(long bits, boolean sqrt) {
        Format f = Format.SINGLE;
        if (f.isNaN(bits)) {
            return SoftFloat.quiet(bits, f);
        }
        if (f.isDenormal(bits)) {
            bits &= f.signBit;
        }
        float x = Float.intBitsToFloat((int) bits);
        float r;
        if (sqrt) {
            r = x == 0 ? Math.copySign(Float.POSITIVE_INFINITY, x)
                    : x < 0 ? Float.NaN : (float) (1.0 / Math.sqrt(x));
            if (Float.isNaN(r)) {
                return f.defaultNaN;
            }
        } else {
            r = (float) (1.0 / x);
        }
        if (Math.abs(r) < Float.MIN_NORMAL) {
            r = Math.copySign(0f, r);
        }
        return Float.floatToRawIntBits(r) & 0xFFFFFFFFL;
    }

    /** SSE3 ADDSUBPS/PD (even lanes subtract, odd lanes add) and HADDPS/PD, HSUBPS/PD. */
    static void sse3(int opcode, long[] d, long[] s, Format f, SoftFloat env) {
        int w = f.width;
        int n = lanes(d, w);
        long[] a = d.clone();
        for (int i = 0; i < n; i++) {
            long r;
            if (opcode == 0xD0) {
                r = (i & 1) == 0 ? env.sub(lane(a, i, w), lane(s, i, w), f) : env.add(lane(a, i, w), lane(s, i, w), f);
            } else {
                long[] src = i < n / 2 ? a : s;
                int pair = 2 * (i % (n / 2));
                long x = lane(src, pair, w);
                long y = lane(src, pair + 1, w);
                r = opcode == 0x7C ? env.add(x, y, f) : env.sub(x, y, f);
            }
            setLane(d, i, w, r);
        }
    }

    /** CMPPS/CMPPD/CMPSS/CMPSD with the 3-bit predicate: each lane becomes all ones or zero. */
    static void compare(long[] d, long[] s, Format f, boolean scalar, int predicate, SoftFloat env) {
        int w = f.width;
        boolean signaling = switch (predicate & 7) {
            case 1, 2, 5, 6 -> true;
            default -> false;
        };
        for (int i = 0, n = laneCount(d, f, scalar); i < n; i++) {
            int c = env.compare(lane(d, i, w), lane(s, i, w), f, signaling);
            boolean unordered = c == SoftFloat.UNORDERED;
            boolean result = switch (predicate & 7) {
                case 0 -> c == SoftFloat.EQUAL;
                case 1 -> c == SoftFloat.LESS;
                case 2 -> c == SoftFloat.LESS || c == SoftFloat.EQUAL;
                case 3 -> unordered;
                case 4 -> c != SoftFloat.EQUAL;
                case 5 -> c != SoftFloat.LESS;
                case 6 -> unordered || c == SoftFloat.GREATER;
                default -> !unordered;
            };
            setLane(d, i, w, result ? -1L : 0L);
        }
    }

    /**
     * Converts {@code count} lanes of {@code from} in s to lanes of {@code to} in d (CVTPS2PD, CVTPD2PS,
     * CVTSS2SD, CVTSD2SS).
     */
    static void convert(long[] d, long[] s, Format from, Format to, int count, SoftFloat env) {
        for (int i = 0; i < count; i++) {
            setLane(d, i, to.width, env.convert(lane(s, i, from.width), from, to));
        }
    }

    /** Converts {@code count} signed 32-bit integer lanes of s to float lanes of d. */
    static void fromInt32(long[] d, long[] s, Format to, int count, SoftFloat env) {
        for (int i = 0; i < count; i++) {
            setLane(d, i, to.width, env.fromInteger((int) lane(s, i, 32), to));
        }
    }

    /** Converts {@code count} float lanes of s to signed 32-bit lanes of d (rounded or truncated). */
    static void toInt32(long[] d, long[] s, Format from, int count, boolean truncate, SoftFloat env) {
        for (int i = 0; i < count; i++) {
            setLane(d, i, 32, env.toInteger(lane(s, i, from.width), from, 32, truncate));
        }
    }
}
