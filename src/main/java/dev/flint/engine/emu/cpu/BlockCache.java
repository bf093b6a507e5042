package dev.flint.engine.emu.cpu;

/**
 * One vCPU's decoded blocks, direct-mapped by linear address: a lookup is one array load and a few
 * compares, and a colliding block simply replaces the old one (it is decoded again if it runs again).
 */
final class BlockCache {
    private static final int SIZE = 1 << 14, MASK = SIZE - 1;
    private final DecodedBlock[] table = new DecodedBlock[SIZE];

    private static int slot(long linear) { return (int) (linear ^ (linear >>> 14)) & MASK; }

    /** The block starting at {@code linear} decoded in {@code modeKey} from the page at {@code pageHost}. */
    DecodedBlock get(long linear, long rip, int modeKey, long pageHost) {
        DecodedBlock b = table[slot(linear)];
        if (b != null && b.linear == linear && b.rip == rip && b.modeKey == modeKey && b.pageHost == pageHost) return b;
        return null;
    }

    void put(DecodedBlock block) { table[slot(block.linear)] = block; }

    void clear() { java.util.Arrays.fill(table, null); }
}
