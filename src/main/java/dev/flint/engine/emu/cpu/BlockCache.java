package dev.flint.engine.emu.cpu;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * One vCPU's decoded blocks: 4-way set-associative by linear address. A hit moves the block one way
 * towards the front of its set and a new block enters behind the two front ways, so blocks that keep
 * running stay while one-off ones cycle through the back.
 *
 * <p>(New blocks enter a full set at its third way: see {@link #put}.)
 *
 * <p>Why not direct-mapped: two hot blocks whose addresses share a slot evicted each other on every
 * switch (busybox's sha256 round loop and a kernel block hit by the timer tick did), so neither ever
 * reached the compile threshold and both were decoded again thousands of times.
 */
final class BlockCache {
    private static final int WAYS = 4;
    /**
     * The blocks all vCPUs of a machine keep decoded, shared out among them. A block costs about 2.5 KB of
     * heap (its DecodedInsns, ~190 bytes each, ~11 per block), so this bounds the decoded code at about
     * 40 MiB however long the guest runs and however much code it runs; evicted blocks, their links and
     * their compiled classes go to the collector ({@link DecodedBlock#evict}). One vCPU keeps the 16,384
     * blocks it had before the budget (half of them cost a boot twice the block decodes and a third more
     * compiled blocks); the heap's maximum (bin/flint) is what sets peak RSS, this only has to fit in it.
     * docs/emu-speed.md (memory) has the measurements.
     */
    static final int MACHINE_BLOCKS = 16384;
    /** The fewest sets a vCPU gets, however many vCPUs share the budget. */
    static final int MIN_SETS = 128;

    private final DecodedBlock[] table;
    private final int setMask;

    BlockCache(int sets) {
        if (sets < 1 || Integer.bitCount(sets) != 1) throw new IllegalArgumentException("sets must be a power of two: " + sets);
        table = new DecodedBlock[sets * WAYS];
        setMask = table.length / WAYS - 1;
    }

    /** The sets of one vCPU's cache when {@code cpuCount} vCPUs share {@link #MACHINE_BLOCKS}. */
    static int setsFor(int cpuCount) {
        return Math.max(MIN_SETS, Integer.highestOneBit(Math.max(1, MACHINE_BLOCKS / WAYS / Math.max(1, cpuCount))));
    }

    /** The most blocks this cache holds. */
    int capacity() { return table.length; }

    private int set(long linear) { return ((int) (linear ^ (linear >>> 12) ^ (linear >>> 24)) & setMask) * WAYS; }

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

    /**
     * Caches {@code block}: in place of a stale block at the same address, else in the set's third way,
     * the blocks from there on moving back one and the last one dropped. Not the front: a block that keeps
     * running stays ahead of one-off ones. Not the back: there two blocks that run in turn (the kernel's
     * path between two processes had pairs of them in one set) replaced each other at every entry while
     * blocks that ran once long ago held the front ways for good; from the third way they pass each other
     * through hits, and blocks no longer hit move back as others pass them.
     */
    void put(DecodedBlock block) {
        int base = set(block.linear);
        for (int w = 0; w < WAYS; w++) {
            DecodedBlock b = table[base + w];
            if (b == null || b.linear == block.linear) {
                if (b != null) b.evict();
                table[base + w] = block;
                return;
            }
        }
        table[base + WAYS - 1].evict();
        for (int w = WAYS - 1; w > INSERT_WAY; w--) table[base + w] = table[base + w - 1];
        table[base + INSERT_WAY] = block;
    }

    /** The way a new block enters a full set at (see {@link #put}). */
    private static final int INSERT_WAY = 2;

    /** The blocks cached now (for the guest profiler's report). */
    List<DecodedBlock> blocks() {
        return Arrays.stream(table).filter(Objects::nonNull).toList();
    }

    void clear() {
        for (DecodedBlock b : table) {
            if (b != null) b.evict();
        }
        Arrays.fill(table, null);
    }
}
