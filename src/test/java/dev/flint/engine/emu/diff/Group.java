package dev.flint.engine.emu.diff;

import java.util.Random;

/**
 * The instruction groups the differential test covers. Each group makes sequences of a few of its
 * instructions (plus setup MOVs) from a seed, so any case is reproducible from (group, seed, index).
 */
public enum Group {
    ALU(6, ArithmeticGroups::alu),
    SHIFT(6, ArithmeticGroups::shift),
    MULDIV(4, ArithmeticGroups::mulDiv),
    BITS(5, ArithmeticGroups::bits),
    MOVES(6, TransferGroups::moves),
    CONDITIONAL(6, ControlGroups::conditional),
    EXCHANGE(5, TransferGroups::exchange),
    CONVERT(3, ArithmeticGroups::convert),
    STRING(3, MemoryGroups::string),
    STACK(8, null),
    ENCODING(6, DecoderGroups::encodings),
    ADDR32(3, ControlGroups::addr32),
    SELF_MODIFYING(4, DecoderGroups::selfModifying),
    ALIASING(4, null),
    SSE_MOVE(6, SseGroups::moves),
    SSE_INT(6, SseGroups::packedInteger),
    SSE_FP(6, SseGroups::floatingPoint),
    SSE_CVT(5, SseGroups::conversions),
    MMX(6, SseGroups::mmx),
    X87(8, null);

    private interface Emitter {
        void emit(SequenceBuilder b);
    }

    private final int maxInstructions;
    private final Emitter emitter;

    Group(int maxInstructions, Emitter emitter) {
        this.maxInstructions = maxInstructions;
        this.emitter = emitter;
    }

    /** Case {@code index} of this group for {@code seed}, laid out for {@code layout}. */
    public TestCase generate(Layout layout, long seed, int index) {
        Random rnd = new Random(seed * 0x9E37_79B9_7F4A_7C15L + (long) index * 1_000_003L + ordinal());
        SequenceBuilder b = new SequenceBuilder(layout, rnd);
        int n = 1 + rnd.nextInt(maxInstructions);
        if (name().startsWith("SSE")) {
            SseGroups.seedValues(b);
        }
        if (this == MMX) {
            SseGroups.loadMmx(b);
        }
        if (this == STACK) {
            b.useDataStack();
        }
        int[] depth = {0};
        if (this == X87) {
            SseGroups.seedValues(b);
            depth[0] = X87Group.prepare(b);
        }
        for (int i = 0; i < n; i++) {
            if (this == STACK) {
                MemoryGroups.stack(b, depth);
            } else if (this == X87) {
                depth[0] = X87Group.step(b, depth[0]);
            } else if (this == ALIASING) {
                DecoderGroups.aliasing(b, i == n - 1);
            } else {
                emitter.emit(b);
            }
        }
        if (this == MMX) {
            SseGroups.storeMmx(b);
        }
        if (this == X87) {
            X87Group.finish(b, depth[0]);
        }
        return b.finish(name(), seed, index);
    }
}
