package dev.flint.engine.emu.cpu;

import org.junit.jupiter.api.Test;

import java.util.ArrayDeque;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The decoded-block cache keeps the emu engine's memory bounded however much code a guest runs: the
 * vCPUs of a machine share one budget of blocks, and a block the cache drops keeps nothing alive (no
 * instructions, no compiled class, no links), so blocks that are still cached cannot chain the evicted
 * ones into the heap through their links. Counts only: memory itself is measured by bench/emu-boot.sh.
 */
class BlockCacheBudgetTest {
    private static final int INSNS_PER_BLOCK = 8;

    private static DecodedBlock block(long linear) {
        DecodedInsn[] insns = new DecodedInsn[INSNS_PER_BLOCK];
        for (int i = 0; i < insns.length; i++) insns[i] = new DecodedInsn();
        byte[] code = {(byte) 0x90, (byte) 0x90, (byte) 0x90, (byte) 0xC3};
        return new DecodedBlock(linear, linear, 0, 0, insns, code, code.length, -1, 0, 0);
    }

    @Test
    void theVcpusOfAMachineShareOneBudget() {
        for (int cpus : new int[] {1, 2, 3, 4, 8, 32}) {
            int perVcpu = new BlockCache(BlockCache.setsFor(cpus)).capacity();
            assertTrue((long) perVcpu * cpus <= Math.max(BlockCache.MACHINE_BLOCKS, cpus * BlockCache.MIN_SETS * 4L),
                    cpus + " vCPUs hold " + perVcpu + " blocks each");
            assertTrue(perVcpu >= BlockCache.MIN_SETS * 4, cpus + " vCPUs: " + perVcpu + " blocks each");
        }
        assertEquals(BlockCache.MACHINE_BLOCKS, new BlockCache(BlockCache.setsFor(1)).capacity());
    }

    /**
     * A guest that keeps running new code (a JIT, a module loader): every block links to the next one, as
     * the dispatcher links successors. Far more blocks than the cache holds pass through it; what stays
     * reachable from the cache holds no more instructions than the cache's capacity allows.
     */
    @Test
    void evictedBlocksKeepNothingAlive() {
        BlockCache cache = new BlockCache(BlockCache.setsFor(1));
        int total = cache.capacity() * 6;
        DecodedBlock prev = null;
        for (int i = 0; i < total; i++) {
            DecodedBlock b = block(0x40_0000L + 16L * i);
            cache.put(b);
            if (prev != null) prev.link(b.rip, 0, b);
            prev = b;
        }
        assertTrue(cache.blocks().size() <= cache.capacity(), cache.blocks().size() + " cached");

        // Everything the cache reaches, following links as the collector would.
        Set<DecodedBlock> reached = Collections.newSetFromMap(new IdentityHashMap<>());
        ArrayDeque<DecodedBlock> todo = new ArrayDeque<>(cache.blocks());
        while (!todo.isEmpty()) {
            DecodedBlock b = todo.pop();
            if (!reached.add(b)) continue;
            if (b.link0 != null) todo.push(b.link0);
            if (b.link1 != null) todo.push(b.link1);
        }
        long instructions = reached.stream().filter(b -> b.insns != null).mapToLong(b -> b.insns.length).sum();
        assertTrue(instructions <= (long) cache.capacity() * INSNS_PER_BLOCK,
                instructions + " instructions reachable from a cache of " + cache.capacity() + " blocks");
        for (DecodedBlock b : reached) {
            if (b.evicted) {
                assertNull(b.insns);
                assertNull(b.compiled);
                assertNull(b.link0);
                assertNull(b.link1);
            }
        }
    }

    @Test
    void aLinkToAnEvictedBlockIsNotFollowed() {
        BlockCache cache = new BlockCache(BlockCache.MIN_SETS);
        DecodedBlock from = block(0x1000), to = block(0x2000);
        cache.put(from);
        cache.put(to);
        from.link(to.rip, 7, to);
        assertSame(to, from.linked(to.rip, 7, 7));
        to.evict();
        assertNull(from.linked(to.rip, 7, 7));
        assertNull(from.link0, "the link to the evicted block is dropped");
        to.link(0x3000, 7, block(0x3000));
        assertNull(to.link0, "an evicted block takes no new links");
    }

    @Test
    void aBlockWithoutLinksFindsNoneEvenAtTheLastRip() {
        DecodedBlock b = block(0x1000);
        assertNull(b.linked(-1, 0, 0), "RIP 0xFFFF_FFFF_FFFF_FFFF matches no unset link");
        b.evict();
        assertNull(b.linked(-1, 0, 0));
    }

    @Test
    void replacingABlockEvictsTheOldOne() {
        BlockCache cache = new BlockCache(BlockCache.MIN_SETS);
        DecodedBlock old = block(0x5000), fresh = block(0x5000);
        cache.put(old);
        cache.put(fresh);
        assertTrue(old.evicted);
        assertSame(fresh, cache.get(0x5000, 0x5000, 0, 0));
        cache.clear();
        assertTrue(fresh.evicted);
        assertTrue(cache.blocks().isEmpty());
    }

    /** Runs the block at {@code linear} as the dispatcher would: a hit, or else a new block cached. Returns whether it missed. */
    private static boolean enter(BlockCache cache, long linear) {
        if (cache.get(linear, linear, 0, 0) != null) return false;
        cache.put(block(linear));
        return true;
    }

    @Test
    void twoBlocksThatRunInTurnStayCachedBesideBlocksThatRanLongAgo() {
        // One set of four ways: three blocks ran often once (a boot's), then two others run in turn for good
        // (the kernel's pipe path between two processes). Both stay after their first entries; when each
        // new block replaced the last way they replaced each other at every entry (200 misses).
        BlockCache cache = new BlockCache(1);
        for (long old = 1; old <= 3; old++) {
            for (int i = 0; i < 10; i++) enter(cache, old * 0x1000);
        }
        int misses = 0;
        for (int i = 0; i < 100; i++) {
            if (enter(cache, 0xA000)) misses++;
            if (enter(cache, 0xB000)) misses++;
        }
        assertTrue(misses <= 4, misses + " misses");
    }

    @Test
    void aBlockThatKeepsRunningOutlastsAStreamOfOneOffBlocks() {
        // The reason a new block does not enter at the front: a hot loop entered between one-off blocks
        // (a timer tick's path each time) is never dropped.
        BlockCache cache = new BlockCache(1);
        int misses = 0;
        for (int i = 0; i < 1000; i++) {
            if (enter(cache, 0x1000)) misses++;
            enter(cache, 0x100_0000L + 0x1000L * i);
            enter(cache, 0x200_0000L + 0x1000L * i);
        }
        assertEquals(1, misses, "only its first entry missed");
    }
}
