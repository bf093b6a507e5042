package dev.flint.engine.emu.cpu;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * One vCPU's decoded blocks: 4-way set-associative by linear address. A hit moves the block one way
 * towards the front of its set and a new block replaces the last way, so blocks that keep running stay
 * while one-off ones cycle through the back.
 *
 * <p>Why not direct-mapped: two hot blocks whose addresses share a slot evicted each other on every
 * switch (busybox's sha256 round loop and a kernel block hit by the timer tick did), so neither ever
 * reached the compile threshold and both were decoded again thousands of times.
 */
final class BlockCache {
    private static final int WAYS = 4, SETS = 1 << 12, SET_MASK = SETS - 1;
    private final DecodedBlock[] table = new DecodedBlock[SETS * WAYS];

    private static int set(long linear) { return ((int) (linear ^ (linear >>> 12) ^ (linear >>> 24)) & SET_MASK) * WAYS; }

    /** The block starting at {@code linear} decoded in {@code modeKey} from the page at {@code pageHost}. */
    DecodedBlock get(long linear, long rip, int modeKey, long pageHost) {
        int base = set(linear);
        for (int w = 0; w < WAYS; w++) {
            DecodedBlock b = table[base + w];
            if (b != null && b.linear == linear && b.rip == rip && b.modeKey == modeKey && b.pageHost == pageHost) {
                if (w > 0) { // towards the front: the hot blocks of a set settle there
                    table[base + w] = table[base + w - 1];
                    table[base + w - 1] = b;
                }
                return b;
            }
        }
        return null;
    }

    /** Caches {@code block}: in place of a stale block at the same address, else in the set's last way. */
    void put(DecodedBlock block) {
        int base = set(block.linear);
        for (int w = 0; w < WAYS; w++) {
            DecodedBlock b = table[base + w];
            if (b == null || b.linear == block.linear) {
                table[base + w] = block;
                return;
            }
        }
        table[base + WAYS - 1] = block;
    }

    /** The blocks cached now (for the guest profiler's report). */
    List<DecodedBlock> blocks() {
        return Arrays.stream(table).filter(Objects::nonNull).toList();
    }

    void clear() { Arrays.fill(table, null); }
}
