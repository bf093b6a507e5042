package dev.flint.engine.emu.fpu;

/**
 * The MMX/SSE2 packed-integer operations on a vector held as {@code long[]} (one element for a 64-bit
 * MMX register, two for a 128-bit XMM register, low quadword first). Every operation works on any
 * length, so the MMX and SSE2 encodings of an instruction share one implementation.
 *
 * <p>Lanes are numbered from the least significant end, as in the Intel manual.
 */
final class PackedInteger {
    private PackedInteger() {
    }

    static int lanes(long[] v, int bits) {
        return v.length * 64 / bits;
    }

    /** Lane {@code i} of width {@code bits}, zero-extended. */
    static long lane(long[] v, int i, int bits) {
        if (bits == 64) {
            return v[i];
        }
        int perWord = 64 / bits;
        return (v[i / perWord] >>> ((i % perWord) * bits)) & ((1L << bits) - 1);
    }

    static void setLane(long[] v, int i, int bits, long x) {
        if (bits == 64) {
            v[i] = x;
            return;
        }
        int perWord = 64 / bits;
        int shift = (i % perWord) * bits;
        long mask = ((1L << bits) - 1) << shift;
        v[i / perWord] = (v[i / perWord] & ~mask) | ((x << shift) & mask);
    }

    static long signExtend(long x, int bits) {
        return (x << (64 - bits)) >> (64 - bits);
    }

    private interface LaneOp {
        long apply(long a, long b);
    }

    /** d[i] = op(d[i], s[i]) over lanes of {@code bits}, operands zero-extended. */
    private static void lanewise(long[] d, long[] s, int bits, LaneOp op) {
        for (int i = 0, n = lanes(d, bits); i < n; i++) {
            setLane(d, i, bits, op.apply(lane(d, i, bits), lane(s, i, bits)));
        }
    }

    private static long saturateSigned(long x, int bits) {
        long max = (1L << (bits - 1)) - 1;
        long min = -(1L << (bits - 1));
        return Math.max(min, Math.min(max, x));
    }

    private static long saturateUnsigned(long x, int bits) {
        return Math.max(0, Math.min((1L << bits) - 1, x));
    }

    /**
     * Applies the two-operand packed-integer instruction {@code 0F opcode} ({@code d = d op s}).
     * Returns false if the opcode is not a packed-integer operation.
     */
    static boolean binary(int opcode, long[] d, long[] s) {
        switch (opcode) {
            case 0x60 -> unpack(d, s, 8, false);
            case 0x61 -> unpack(d, s, 16, false);
            case 0x62 -> unpack(d, s, 32, false);
            case 0x6C -> unpack(d, s, 64, false);
            case 0x68 -> unpack(d, s, 8, true);
            case 0x69 -> unpack(d, s, 16, true);
            case 0x6A -> unpack(d, s, 32, true);
            case 0x6D -> unpack(d, s, 64, true);
            case 0x63 -> pack(d, s, 16, true);
            case 0x6B -> pack(d, s, 32, true);
            case 0x67 -> pack(d, s, 16, false);
            case 0x64 -> compare(d, s, 8, true);
            case 0x65 -> compare(d, s, 16, true);
            case 0x66 -> compare(d, s, 32, true);
            case 0x74 -> lanewise(d, s, 64, PackedInteger::equalBytes);
            case 0x75 -> compare(d, s, 16, false);
            case 0x76 -> compare(d, s, 32, false);
            case 0xD1 -> shift(d, 16, s[0], Shift.RIGHT_LOGICAL);
            case 0xD2 -> shift(d, 32, s[0], Shift.RIGHT_LOGICAL);
            case 0xD3 -> shift(d, 64, s[0], Shift.RIGHT_LOGICAL);
            case 0xE1 -> shift(d, 16, s[0], Shift.RIGHT_ARITHMETIC);
            case 0xE2 -> shift(d, 32, s[0], Shift.RIGHT_ARITHMETIC);
            case 0xF1 -> shift(d, 16, s[0], Shift.LEFT);
            case 0xF2 -> shift(d, 32, s[0], Shift.LEFT);
            case 0xF3 -> shift(d, 64, s[0], Shift.LEFT);
            case 0xFC -> lanewise(d, s, 64, (a, b) -> ((a & LOW7) + (b & LOW7)) ^ ((a ^ b) & HIGH1));
            case 0xFD -> lanewise(d, s, 16, Long::sum);
            case 0xFE -> lanewise(d, s, 32, Long::sum);
            case 0xD4 -> lanewise(d, s, 64, Long::sum);
            case 0xF8 -> lanewise(d, s, 64, (a, b) -> ((a | HIGH1) - (b & LOW7)) ^ ((a ^ ~b) & HIGH1));
            case 0xF9 -> lanewise(d, s, 16, (a, b) -> a - b);
            case 0xFA -> lanewise(d, s, 32, (a, b) -> a - b);
            case 0xFB -> lanewise(d, s, 64, (a, b) -> a - b);
            case 0xEC -> lanewise(d, s, 8, (a, b) -> saturateSigned(signExtend(a, 8) + signExtend(b, 8), 8));
            case 0xED -> lanewise(d, s, 16, (a, b) -> saturateSigned(signExtend(a, 16) + signExtend(b, 16), 16));
            case 0xE8 -> lanewise(d, s, 8, (a, b) -> saturateSigned(signExtend(a, 8) - signExtend(b, 8), 8));
            case 0xE9 -> lanewise(d, s, 16, (a, b) -> saturateSigned(signExtend(a, 16) - signExtend(b, 16), 16));
            case 0xDC -> lanewise(d, s, 8, (a, b) -> saturateUnsigned(a + b, 8));
            case 0xDD -> lanewise(d, s, 16, (a, b) -> saturateUnsigned(a + b, 16));
            case 0xD8 -> lanewise(d, s, 8, (a, b) -> saturateUnsigned(a - b, 8));
            case 0xD9 -> lanewise(d, s, 16, (a, b) -> saturateUnsigned(a - b, 16));
            case 0xD5 -> lanewise(d, s, 16, (a, b) -> signExtend(a, 16) * signExtend(b, 16));
            case 0xE5 -> lanewise(d, s, 16, (a, b) -> (signExtend(a, 16) * signExtend(b, 16)) >> 16);
            case 0xE4 -> lanewise(d, s, 16, (a, b) -> (a * b) >>> 16);
            case 0xF4 -> lanewise(d, s, 64, (a, b) -> (a & 0xFFFFFFFFL) * (b & 0xFFFFFFFFL));
            case 0xF5 -> multiplyAdd(d, s);
            case 0xF6 -> lanewise(d, s, 64, PackedInteger::sumOfAbsoluteDifferences);
            case 0xDA -> lanewise(d, s, 8, Math::min);
            case 0xDE -> lanewise(d, s, 8, Math::max);
            case 0xEA -> lanewise(d, s, 16, (a, b) -> Math.min(signExtend(a, 16), signExtend(b, 16)));
            case 0xEE -> lanewise(d, s, 16, (a, b) -> Math.max(signExtend(a, 16), signExtend(b, 16)));
            case 0xE0 -> lanewise(d, s, 8, (a, b) -> (a + b + 1) >>> 1);
            case 0xE3 -> lanewise(d, s, 16, (a, b) -> (a + b + 1) >>> 1);
            case 0xDB -> lanewise(d, s, 64, (a, b) -> a & b);
            case 0xDF -> lanewise(d, s, 64, (a, b) -> ~a & b);
            case 0xEB -> lanewise(d, s, 64, (a, b) -> a | b);
            case 0xEF -> lanewise(d, s, 64, (a, b) -> a ^ b);
            default -> {
                return false;
            }
        }
        return true;
    }

    /** Byte lanes without their top bit / with only their top bit: SWAR forms of the hot byte operations. */
    private static final long LOW7 = 0x7F7F7F7F7F7F7F7FL;
    private static final long HIGH1 = 0x8080808080808080L;

    /** PCMPEQB on one quadword: 0xFF in every byte where a and b agree (used by glibc's string scans). */
    private static long equalBytes(long a, long b) {
        long x = a ^ b;
        long zeroHigh = ~(((x & LOW7) + LOW7) | x | LOW7); // top bit set exactly in the zero bytes of x
        return (zeroHigh >>> 7) * 0xFF;
    }

    private static void unpack(long[] d, long[] s, int bits, boolean high) {
        int n = lanes(d, bits);
        int base = high ? n / 2 : 0;
        long[] a = d.clone();
        for (int i = 0; i < n / 2; i++) {
            setLane(d, 2 * i, bits, lane(a, base + i, bits));
            setLane(d, 2 * i + 1, bits, lane(s, base + i, bits));
        }
    }

    /** PACKSSWB/PACKSSDW/PACKUSWB: narrows d's lanes into the low half and s's into the high half. */
    private static void pack(long[] d, long[] s, int bits, boolean signedResult) {
        int n = lanes(d, bits);
        int narrow = bits / 2;
        long[] a = d.clone();
        for (int i = 0; i < 2 * n; i++) {
            long x = signExtend(lane(i < n ? a : s, i % n, bits), bits);
            setLane(d, i, narrow, signedResult ? saturateSigned(x, narrow) : saturateUnsigned(x, narrow));
        }
    }

    private static void compare(long[] d, long[] s, int bits, boolean greater) {
        lanewise(d, s, bits, (a, b) -> (greater ? signExtend(a, bits) > signExtend(b, bits) : a == b) ? -1L : 0L);
    }

    enum Shift { LEFT, RIGHT_LOGICAL, RIGHT_ARITHMETIC }

    /** PSLL/PSRL/PSRA with a 64-bit unsigned count; oversized counts clear (or sign-fill) every lane. */
    static void shift(long[] d, int bits, long count, Shift kind) {
        boolean oversized = Long.compareUnsigned(count, bits - 1) > 0;
        for (int i = 0, n = lanes(d, bits); i < n; i++) {
            long x = lane(d, i, bits);
            long r = switch (kind) {
                case LEFT -> oversized ? 0 : x << count;
                case RIGHT_LOGICAL -> oversized ? 0 : x >>> count;
                case RIGHT_ARITHMETIC -> signExtend(x, bits) >> (oversized ? bits - 1 : count);
            };
            setLane(d, i, bits, r);
        }
    }

    /** PSLLDQ/PSRLDQ: shifts the whole 128-bit register by bytes. */
    static void shiftBytes(long[] d, int count, boolean left) {
        int n = Math.min(count, 16);
        int bits = n * 8;
        long lo = d[0];
        long hi = d[1];
        if (bits == 0) {
            return;
        }
        if (left) {
            d[1] = bits >= 64 ? (bits >= 128 ? 0 : lo << (bits - 64)) : (hi << bits) | (lo >>> (64 - bits));
            d[0] = bits >= 64 ? 0 : lo << bits;
        } else {
            d[0] = bits >= 64 ? (bits >= 128 ? 0 : hi >>> (bits - 64)) : (lo >>> bits) | (hi << (64 - bits));
            d[1] = bits >= 64 ? 0 : hi >>> bits;
        }
    }

    private static void multiplyAdd(long[] d, long[] s) {
        for (int i = 0, n = lanes(d, 32); i < n; i++) {
            long sum = signExtend(lane(d, 2 * i, 16), 16) * signExtend(lane(s, 2 * i, 16), 16)
                    + signExtend(lane(d, 2 * i + 1, 16), 16) * signExtend(lane(s, 2 * i + 1, 16), 16);
            setLane(d, i, 32, sum);
        }
    }

    private static long sumOfAbsoluteDifferences(long a, long b) {
        long sum = 0;
        for (int i = 0; i < 8; i++) {
            sum += Math.abs(((a >>> (8 * i)) & 0xFF) - ((b >>> (8 * i)) & 0xFF));
        }
        return sum;
    }

    /**
     * Applies the SSSE3 instruction {@code 0F 38 opcode} ({@code d = d op s}, or {@code d = op s} for PABS).
     * Returns false for other opcodes.
     */
    static boolean ssse3(int opcode, long[] d, long[] s) {
        switch (opcode) {
            case 0x00 -> shuffleBytes(d, s);
            case 0x01 -> horizontal(d, s, 16, Long::sum);
            case 0x02 -> horizontal(d, s, 32, Long::sum);
            case 0x03 -> horizontal(d, s, 16, (a, b) -> saturateSigned(signExtend(a, 16) + signExtend(b, 16), 16));
            case 0x04 -> {
                long[] a = d.clone();
                for (int i = 0, n = lanes(d, 16); i < n; i++) {
                    long sum = lane(a, 2 * i, 8) * signExtend(lane(s, 2 * i, 8), 8)
                            + lane(a, 2 * i + 1, 8) * signExtend(lane(s, 2 * i + 1, 8), 8);
                    setLane(d, i, 16, saturateSigned(sum, 16));
                }
            }
            case 0x05 -> horizontal(d, s, 16, (a, b) -> a - b);
            case 0x06 -> horizontal(d, s, 32, (a, b) -> a - b);
            case 0x07 -> horizontal(d, s, 16, (a, b) -> saturateSigned(signExtend(a, 16) - signExtend(b, 16), 16));
            case 0x08 -> sign(d, s, 8);
            case 0x09 -> sign(d, s, 16);
            case 0x0A -> sign(d, s, 32);
            case 0x0B -> lanewise(d, s, 16, (a, b) -> ((signExtend(a, 16) * signExtend(b, 16) >> 14) + 1) >> 1);
            case 0x1C -> lanewise(d, s, 8, (a, b) -> Math.abs(signExtend(b, 8)));
            case 0x1D -> lanewise(d, s, 16, (a, b) -> Math.abs(signExtend(b, 16)));
            case 0x1E -> lanewise(d, s, 32, (a, b) -> Math.abs(signExtend(b, 32)));
            default -> {
                return false;
            }
        }
        return true;
    }

    /** PSHUFB: each byte of d picks d's byte indexed by s's byte, or zero if that byte's top bit is set. */
    private static void shuffleBytes(long[] d, long[] s) {
        long[] a = d.clone();
        int n = lanes(d, 8);
        for (int i = 0; i < n; i++) {
            long control = lane(s, i, 8);
            setLane(d, i, 8, (control & 0x80) != 0 ? 0 : lane(a, (int) control & (n - 1), 8));
        }
    }

    /** PHADD/PHSUB: pairs of d's lanes fill the low half of the result, pairs of s's lanes the high half. */
    private static void horizontal(long[] d, long[] s, int bits, LaneOp op) {
        long[] a = d.clone();
        int n = lanes(d, bits);
        for (int i = 0; i < n; i++) {
            long[] src = i < n / 2 ? a : s;
            int pair = 2 * (i % (n / 2));
            setLane(d, i, bits, op.apply(lane(src, pair, bits), lane(src, pair + 1, bits)));
        }
    }

    private static void sign(long[] d, long[] s, int bits) {
        lanewise(d, s, bits, (a, b) -> {
            long control = signExtend(b, bits);
            return control < 0 ? -a : control == 0 ? 0 : a;
        });
    }

    /** PALIGNR: the concatenation d:s shifted right by {@code count} bytes, low half kept. */
    static void alignRight(long[] d, long[] s, int count) {
        int n = lanes(d, 8);
        long[] a = d.clone();
        for (int i = 0; i < n; i++) {
            int index = i + count;
            long b = index < n ? lane(s, index, 8) : index < 2 * n ? lane(a, index - n, 8) : 0;
            setLane(d, i, 8, b);
        }
    }

    /** PMOVMSKB: the top bit of every byte. */
    static int byteMask(long[] v) {
        int mask = 0;
        for (int i = 0, n = lanes(v, 8); i < n; i++) {
            mask |= (int) (lane(v, i, 8) >>> 7) << i;
        }
        return mask;
    }

    /** PSHUFD/PSHUFW/PSHUFLW/PSHUFHW: lanes {@code first..first+3} of {@code bits} picked from s by imm8. */
    static void shuffle4(long[] d, long[] s, int bits, int first, int imm8) {
        for (int i = 0; i < 4; i++) {
            setLane(d, first + i, bits, lane(s, first + ((imm8 >>> (2 * i)) & 3), bits));
        }
    }
}
