package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.mmu.CodePages;
import dev.flint.engine.emu.nativecode.BlockFrame;
import dev.flint.engine.emu.nativecode.CodeCache;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Chains translated blocks in host code (docs/emu-native.md, "emuchain"): an exit of a native block whose guest
 * target was then run natively by {@link Cpu} is patched to jump straight to that block's chain entry, so a loop
 * of native blocks stays in host code until the budget (checked at every block head) runs out or a block exits
 * to an untranslated target.
 *
 * <p>When a chain is valid. {@link Cpu}'s Java block links hold while the TLB generation, the CPL and the mode
 * do, and the target's code is current. A native block runs register-only instructions, which change none of
 * these, so within one run only what held at its Java entry matters. A chain is made only between two blocks
 * of the same guest linear page mapped to the same host page, neither crossing a page end, of the same mode, and
 * only while that page's code version is the one both were checked against. Then at every Java entry into a
 * native block (which {@link Cpu} has just found usable: mapped there under the current TLB, current code) the
 * page's version is compared with the one its chains were made under, and on a change all of that page's chains
 * are dropped first (their exits go back to Java). Everything reachable from the entered block lies on its page
 * and was chained under the version seen now: no chain runs stale code. A flush of the code cache (generation)
 * forgets every chain with the code.
 *
 * <p>One per vCPU, used by its thread only, like the cache.
 */
final class NativeChains {
    /** The chained exits of one host code page, made while its code had {@link #version}. */
    static final class Page {
        int version;
        final List<Site> chained = new ArrayList<>();
    }

    /** An exit of an installed block, at absolute cache offsets, and where its block lies. */
    private record Site(long target, long site, long chain, long chainJump, long slow, Page page, long linearPage,
                        int modeKey) {}

    private final CodeCache cache;
    private final CodePages codePages;
    private final Map<Long, Page> pages = new HashMap<>();
    private final Map<Long, Site> sites = new HashMap<>();
    private long generation;
    /** The exit the last run left by, and its page's version then: chained if the next native block is its target. */
    private Site pending;
    private int pendingVersion;
    /** The version of the entered block's page at the last {@link #enter}. */
    private int enteredVersion;
    private long made, dropped;

    NativeChains(CodeCache cache, CodePages codePages) {
        this.cache = cache;
        this.codePages = codePages;
        this.generation = cache.generation();
    }

    /** Forgets everything when the cache flushed: the code, and with it every patched jump, is gone. */
    private void sync() {
        if (cache.generation() == generation) return;
        generation = cache.generation();
        pages.clear();
        sites.clear();
        pending = null;
    }

    /** Notes a block just installed at {@code offset}: its exits can be chained from, it can be chained to. */
    void installed(DecodedBlock b, long offset, BlockFrame frame) {
        sync();
        b.nativeChainEntry = frame.chainEntry() < 0 ? -1 : offset + frame.chainEntry();
        b.nativePage = null;
        if (b.page2Host >= 0 || frame.chainEntry() < 0) return; // a block crossing a page end is never chained
        Page p = pages.computeIfAbsent(b.pageHost, k -> {
            Page n = new Page();
            n.version = codePages.version(k);
            return n;
        });
        b.nativePage = p;
        for (BlockFrame.Exit x : frame.exits()) {
            sites.put(offset + x.site(), new Site(x.rip(), offset + x.site(), offset + x.chain(), offset + x.chainJump(),
                    offset + x.slow(), p, b.linear >>> 12, b.modeKey));
        }
    }

    /**
     * Called before {@link Cpu} enters native block {@code b} from Java ({@code b} usable now): drops the chains
     * of its page if its code changed since they were made, then chains the last run's exit to {@code b} if
     * {@code b} is that exit's target on the same page.
     */
    void enter(DecodedBlock b) {
        sync();
        Page p = b.nativePage; // set by installed() in this generation (Cpu translates again after a flush)
        int v = codePages.version(b.pageHost);
        enteredVersion = v;
        if (p != null && p.version != v) drop(p, v);
        Site x = pending;
        pending = null;
        if (x != null && p != null && x.page == p && x.target == b.rip && pendingVersion == v
                && x.linearPage == b.linear >>> 12 && x.modeKey == b.modeKey && b.nativeChainEntry >= 0
                && b.nativeGeneration == generation) {
            cache.write(x.chainJump + 1, rel32(x.chainJump, b.nativeChainEntry));
            cache.write(x.site + 1, rel32(x.site, x.chain));
            p.chained.add(x);
            made++;
        }
    }

    /** Called after a native run that left by the exit at host address {@code exitSite} (0: by the budget). */
    void exited(long exitSite) {
        pending = exitSite == 0 ? null : sites.get(exitSite - cache.address(0));
        pendingVersion = enteredVersion;
    }

    /** Puts every chained exit of {@code p} back on its way to Java and notes version {@code v} for new chains. */
    private void drop(Page p, int v) {
        for (Site x : p.chained) cache.write(x.site + 1, rel32(x.site, x.slow));
        dropped += p.chained.size();
        p.chained.clear();
        p.version = v;
    }

    private static byte[] rel32(long jump, long target) {
        int r = BlockFrame.Exit.rel32(jump, target);
        return new byte[] {(byte) r, (byte) (r >> 8), (byte) (r >> 16), (byte) (r >> 24)};
    }

    /** Exits chained so far (tests, statistics). */
    long made() { return made; }

    /** Chained exits dropped because their page's code changed (tests, statistics). */
    long dropped() { return dropped; }

    /** Exits chained now. */
    int live() {
        sync();
        int n = 0;
        for (Page p : pages.values()) n += p.chained.size();
        return n;
    }
}
