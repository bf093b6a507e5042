package dev.flint.engine.emu.cpu;

import static dev.flint.engine.emu.cpu.CpuState.*;

/**
 * Segment limit and access-rights checks for memory accesses outside 64-bit mode (Intel SDM vol. 3, 5.3
 * and 5.7): an offset past the limit of an expand-up segment, or at or below the limit of an expand-down
 * one, a write to a read-only data segment or any code segment, a read of an execute-only code segment,
 * and any access through a null (unusable) segment raise #GP(0), or #SS(0) when the segment is SS.
 *
 * <p>The callers test {@link #fast} first: an expand-up, present data segment that the access stays
 * inside of, which is every access a flat 32-bit guest makes, costs two array loads and two compares. Only
 * the rest comes here.
 */
final class SegmentChecks {
    private SegmentChecks() {}

    /** Attribute bits the fast test looks at (type's code, expand-down and writable bits, S, P), and the values it wants. */
    static final int READ_MASK = A_P | A_S | 0xC, READ_OK = A_P | A_S;
    static final int WRITE_MASK = A_P | A_S | 0xE, WRITE_OK = A_P | A_S | 0x2;

    /** True when an access of {@code size} bytes at {@code off} in {@code sg} needs no closer look. */
    static boolean fast(CpuState s, int sg, long off, int size, boolean write) {
        int a = s.segAttr[sg];
        return off + size - 1 <= s.segLimit[sg] && (write ? (a & WRITE_MASK) == WRITE_OK : (a & READ_MASK) == READ_OK);
    }

    /**
     * The full check, for accesses {@link #fast} did not pass. Returns normally if the access is allowed,
     * else throws the fault. Real mode and virtual-8086 mode check the limit only (their segments have no
     * access rights to check; a limit above 64 KiB left from protected mode, "unreal mode", is honoured).
     */
    static void check(CpuState s, int sg, long off, int size, boolean write) {
        int a = s.segAttr[sg];
        long limit = s.segLimit[sg];
        long end = off + size - 1;
        boolean rightsApply = s.protectedMode() && (s.flags.system & Flags.VM) == 0;
        if (rightsApply) {
            if ((a & A_P) == 0 || (a & A_S) == 0) throw fault(sg);
            boolean code = (a & 8) != 0;
            if (write ? code || (a & 2) == 0 : code && (a & 2) == 0) throw fault(sg);
            if (!code && (a & 4) != 0) { // expand-down: the valid offsets are above the limit
                long upper = (a & A_DB) != 0 ? 0xFFFF_FFFFL : 0xFFFF;
                if (off <= limit || end > upper) throw fault(sg);
                return;
            }
        }
        // A 4 GiB expand-up segment lets an access wrap at the top, as the flat segments' callers always did.
        if (end > limit && limit != 0xFFFF_FFFFL) throw fault(sg);
    }

    private static GuestFault fault(int sg) {
        return GuestFault.of(sg == SS ? GuestFault.SS : GuestFault.GP, 0);
    }

    /**
     * True if a stack segment with attributes {@code attr} and byte limit {@code limit} holds {@code size}
     * bytes at {@code sp} (expand-down stacks included), for the frames interrupt delivery pushes.
     */
    static boolean stackHolds(int attr, long limit, long sp, int size) {
        long end = sp + size - 1;
        if ((attr & 0xC) == 0x4) return sp > limit && end <= ((attr & A_DB) != 0 ? 0xFFFF_FFFFL : 0xFFFF);
        return end <= limit || limit == 0xFFFF_FFFFL;
    }

    /** True if accesses through {@code sg} never need a check: a 4 GiB expand-up, writable, present data segment. */
    static boolean flat(CpuState s, int sg) {
        return s.segLimit[sg] == 0xFFFF_FFFFL && (s.segAttr[sg] & WRITE_MASK) == WRITE_OK;
    }
}
