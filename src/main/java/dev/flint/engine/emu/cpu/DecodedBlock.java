package dev.flint.engine.emu.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A run of instructions decoded once, all in one code page (the last one may cross into the next),
 * entered at its first instruction. It is only used while guest memory still holds exactly the bytes it
 * was decoded from: it notes the {@link dev.flint.engine.emu.mmu.CodePages} version of its page(s), which
 * every write there bumps (the guest's own stores, another vCPU's, device DMA), and on entry compares
 * that; only a changed version costs a comparison of its copy of the code bytes ({@link #matches}),
 * which renews the noted versions if the bytes are intact. A store that rewrites a later instruction of
 * the block being run ends the block after the store, so the change takes effect at once.
 *
 * <p>{@link #entries} counts how often the block ran; a hot block made only of {@link FastPath} forms is
 * compiled to JVM bytecode ({@link #compiled}) and runs as that from then on.
 */
final class DecodedBlock {
    private static final ValueLayout.OfLong CODE =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    /** Linear address and CS offset of the first instruction; the CPU mode it was decoded in. */
    final long linear, rip;
    final int modeKey;
    /** Host offset (in the RAM segment) of the page holding the code. */
    final long pageHost;
    /** The instructions; dropped (null) once the cache evicts the block, which then never runs again. */
    DecodedInsn[] insns;
    long entries;
    /**
     * When the last instruction crosses into the next page: that page's linear address and the host
     * offset it translated to (the block is only used while it still does), else -1.
     */
    final long page2Lin, page2Host;
    /** The code tracker's versions of the block's page and of the next page (if it crosses) when last checked. */
    int version, version2;
    /** The block as JVM bytecode once it ran often enough ({@link BlockCompiler}); null before or if not compilable. */
    CompiledBlock compiled;
    /**
     * The instructions {@link #compiled} indexes: this block's, followed by those of the other members of
     * its region ({@link BlockCompiler#compileRegion}) if it has any.
     */
    DecodedInsn[] compiledInsns;
    /**
     * The other members of the region compiled from this block, all in its code page: their code is part
     * of {@link #compiled}, so whenever this block's bytes are compared ({@link #matches}) theirs are too.
     */
    DecodedBlock[] region = NO_REGION;
    private static final DecodedBlock[] NO_REGION = {};
    /**
     * Direct links to the blocks that ran next, two (a branch's target and its fall-through), each with
     * the RIP it starts at and the translation state it was found under ({@link Cpu}'s link key: TLB
     * generation and fetch mode). The dispatcher follows a link instead of translating the RIP and
     * searching the cache; the block it leads to is still checked for code changes on entry.
     */
    DecodedBlock link0, link1;
    /**
     * The block as host code ({@link NativeTranslator}): its offset in the vCPU's code cache and the cache
     * generation it was installed in (gone once the generation moved on), or -1; {@link #nativeRefused} once a
     * translation did not cover every instruction (the block is then never offered again).
     */
    long nativeOffset = -1, nativeGeneration = -1;
    /** Where other native blocks' chained exits jump into this one ({@link NativeChains}), or -1. */
    long nativeChainEntry = -1;
    /** Its page's chains ({@link NativeChains}), null if it is never chained (it crosses a page end). */
    NativeChains.Page nativePage;
    boolean nativeRefused;
    /** Why the translator refused it, for {@link NativeCensus} (null unless the census is on). */
    String nativeWhy;
    /** Set once the cache dropped this block ({@link #evict}). */
    boolean evicted;
    long linkRip0 = -1, linkRip1 = -1;
    long linkKey0, linkKey1;

    /** The code bytes in the next page, as a block of its own (only its words are used), or null. */
    private final DecodedBlock page2;
    // The code bytes as words at page offsets: compared (under the mask) with memory on entry.
    private final int[] wordOffset;
    private final long[] wordValue, wordMask;

    DecodedBlock(long linear, long rip, int modeKey, long pageHost, DecodedInsn[] insns, byte[] code, int length,
                 long page2Host, int version, int version2) {
        this.version = version;
        this.version2 = version2;
        this.linear = linear;
        this.rip = rip;
        this.modeKey = modeKey;
        this.pageHost = pageHost;
        this.insns = insns;
        int inPage = (int) (linear & 0xFFF);
        int inFirst = Math.min(length, 4096 - inPage);
        if (inFirst < length) {
            page2Lin = (linear & ~0xFFFL) + 4096;
            this.page2Host = page2Host;
            byte[] tail = java.util.Arrays.copyOfRange(code, inFirst, length);
            page2 = new DecodedBlock(page2Lin, 0, 0, page2Host, new DecodedInsn[0], tail, tail.length, -1, 0, 0);
            length = inFirst;
        } else {
            page2Lin = -1;
            this.page2Host = -1;
            page2 = null;
        }
        int words = Math.max(1, (length + 7) / 8);
        wordOffset = new int[words];
        wordValue = new long[words];
        wordMask = new long[words];
        for (int w = 0; w < words; w++) {
            // Whole words from the start; the last one ends at the last byte (overlapping its neighbour)
            // or, for a block under 8 bytes, is the one 8-byte window of the page that holds it.
            int start = length >= 8 ? Math.min(w * 8, length - 8) : Math.min(inPage, 4096 - 8) - inPage;
            long value = 0, mask = 0;
            for (int b = 0; b < 8; b++) {
                int i = start + b;
                if (i >= 0 && i < length) {
                    value |= (code[i] & 0xFFL) << (8 * b);
                    mask |= 0xFFL << (8 * b);
                }
            }
            wordOffset[w] = inPage + start;
            wordValue[w] = value;
            wordMask[w] = mask;
        }
    }

    /** The linked block that starts at {@code rip}, found under {@code key} or {@code globalKey}, or null. */
    DecodedBlock linked(long rip, long key, long globalKey) {
        // (link0 != null: an unset link's RIP, -1, is a RIP a guest can jump to)
        if (linkRip0 == rip && (linkKey0 == key || linkKey0 == globalKey) && link0 != null) {
            if (!link0.evicted) return link0;
            link0 = null; // evicted from the cache: it runs no more, so let the collector have it
            linkRip0 = -1;
        } else if (linkRip1 == rip && (linkKey1 == key || linkKey1 == globalKey) && link1 != null) {
            if (!link1.evicted) return link1;
            link1 = null;
            linkRip1 = -1;
        }
        return null;
    }

    /**
     * Called when the cache drops this block: it keeps no instructions, no links and no compiled class
     * (hidden classes unload once nothing reaches them), and a block linking here stops following the link. Without this
     * an evicted block stayed reachable through its predecessors' links, with its own links to further
     * evicted blocks, so the heap and the compiled classes grew past the cache's budget.
     */
    void evict() {
        evicted = true;
        insns = null;
        compiled = null;
        compiledInsns = null;
        region = NO_REGION;
        link0 = link1 = null;
        linkRip0 = linkRip1 = -1;
    }

    /** Links {@code next} (starting at {@code rip}, found under {@code key}), replacing the older link. */
    void link(long rip, long key, DecodedBlock next) {
        if (evicted) return; // it must not keep newer blocks alive
        link1 = link0;
        linkRip1 = linkRip0;
        linkKey1 = linkKey0;
        link0 = next;
        linkRip0 = rip;
        linkKey0 = key;
    }

    /** True if guest memory still holds the bytes this block and the other members of its region were decoded from. */
    boolean matches(MemorySegment ram) {
        for (DecodedBlock member : region) {
            if (!member.matchesOwn(ram)) return false;
        }
        return matchesOwn(ram);
    }

    private boolean matchesOwn(MemorySegment ram) {
        for (int w = 0; w < wordOffset.length; w++) {
            if ((ram.get(CODE, pageHost + wordOffset[w]) & wordMask[w]) != wordValue[w]) return false;
        }
        return page2 == null || page2.matchesOwn(ram);
    }
}
