package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.mmu.CodePages;
import dev.flint.engine.emu.mmu.Mmu;
import dev.flint.engine.emu.nativecode.BlockFrame;
import dev.flint.engine.emu.nativecode.CodeCache;
import dev.flint.engine.emu.nativecode.NativeState;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

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
 * <p>Chains across pages (docs/emu-native.md, "emustack"): a chain from a block on page P into a block on
 * another page Q holds while Q is mapped as it was when it was chained, under the same CPL, and Q's code is
 * unchanged. It is made only when {@link Cpu} has just found Q's block usable (so Q mapped there, executable,
 * current, under the TLB generation, or for a global page the global generation, and the CPL of now), and it
 * is kept in Q's {@link Page} with the chains inside Q. At every Java entry, before anything runs: if the CPL or
 * the global generation changed since the chains across pages were made, all of them are dropped; if only the
 * TLB generation changed, those into non-global pages are (the Java block links' {@code linkKey}/{@code
 * globalKey} rule); and if any code page's version moved ({@link CodePages#changes}), every page holding chains
 * is compared with the version its chains were made under and dropped on a change. Nothing changes a mapping,
 * the CPL or code between two Java entries while native code runs (stores into code, misses and everything
 * else that needs Java exit first), so every chain reachable from the entered block is valid for the whole run.
 *
 * <p>The indirect-jump table (RET): every native block entered from Java (usable now, not crossing a page end)
 * is written at {@code rip mod TABLE_ENTRIES} with its chain entry and the current epoch; a RET whose popped RIP
 * and the state's epoch match jumps there in host code ({@link NativeStackForms}). The epoch goes up at every
 * Java entry where any key a chain depends on changed (TLB generation, global generation, CPL, mode, any code
 * page's version, a cache flush), so an entry is used only under the keys its block was found usable under.
 *
 * <p>One per vCPU, used by its thread only, like the cache.
 */
final class NativeChains {
    /** The chained exits into one host code page (from it or from other pages), made while its code had {@link #version}. */
    static final class Page {
        final long host;
        int version;
        /**
         * The live chains into this page. A set, so that a chain across pages dropped on its own (a TLB or CPL change,
         * which happens at every context switch and system call) leaves it at once: kept in a list until the page's
         * code changed, the dead chains piled up (1.6 M on one boot) until the 128 MiB heap ran out.
         */
        final Set<Chain> chained = new HashSet<>();

        Page(long host) { this.host = host; }
    }

    /** A patched exit: its site, the page it jumps into, whether it leaves its page and whether that page is global. */
    private static final class Chain {
        final Site site;
        final Page into;
        final boolean cross, global;
        /** Made at CPL 3; else, for a chain across pages made at CPL 0: CPL 3 could not fetch its source page. */
        boolean madeUser, sourceKernelOnly, sourceGlobal;
        /** The TLB generation it was made under. */
        int madeGeneration;
        boolean live = true;

        Chain(Site site, Page into, boolean cross, boolean global) {
            this.site = site;
            this.into = into;
            this.cross = cross;
            this.global = global;
        }
    }

    /** An exit of an installed block, at absolute cache offsets, and where its block lies. */
    private record Site(long target, long site, long chain, long chainJump, long slow, Page page, long linearPage,
                        int modeKey) {}

    /** Why chains were dropped (census): indexes into {@link #dropCounts}. */
    static final String[] DROP_REASONS = {"across pages, at a CPL change", "across pages, at a global-generation change",
            "across pages into a non-global page, at a TLB-generation change", "the target page's code changed",
            "indirect-table epoch bumps at a CPL change", "indirect-table epoch bumps at a TLB/global-generation change",
            "indirect-table epoch bumps at a code change", "indirect-table epoch bumps at a mode change",
            "indirect-table entries into non-global pages emptied at a TLB-generation change"};
    private static final int DROP_CPL = 0, DROP_GLOBAL = 1, DROP_TLB = 2, DROP_CODE = 3, EPOCH_CPL = 4, EPOCH_TLB = 5,
            EPOCH_CODE = 6, EPOCH_MODE = 7, TABLE_NON_GLOBAL = 8;
    /** Whether each table slot's block lay on a global page when it was written. */
    private final boolean[] slotGlobal = new boolean[NativeStackForms.TABLE_ENTRIES];
    /**
     * The slots written with a non-global block since the last {@link #dropNonGlobalEntries} (each once,
     * {@link #listed}), so that a CR3 write visits those instead of the whole table (which may be large).
     */
    private final int[] nonGlobal = new int[NativeStackForms.TABLE_ENTRIES];
    private final boolean[] listed = new boolean[NativeStackForms.TABLE_ENTRIES];
    private int nonGlobalCount;
    private final long[] dropCounts = new long[DROP_REASONS.length];
    /** Why a chainable exit was not chained at the next Java entry (census). */
    static final String[] MISSED = {"the next block entered natively was not its target (target not native)",
            "target not chainable (crosses a page end, or installed in an older cache generation)",
            "target in another mode", "same page, code changed in between"};
    private final long[] missedCounts = new long[MISSED.length];

    private final CodeCache cache;
    private final CodePages codePages;
    private final Mmu mmu;
    /** Chains across pages, and the TLB generation, global generation and CPL they were made under. */
    private final List<Chain> cross = new ArrayList<>();
    private int crossGeneration, crossGlobal;
    private boolean crossUser;
    private long seenChanges;
    private long crossMade, crossDropped;
    private final NativeState state;
    private final MemorySegment table = Arena.ofAuto().allocate(32L * NativeStackForms.TABLE_ENTRIES, 64);
    /** The epoch table entries must carry; never 0 (an empty entry). */
    private long epoch = 1;
    private int enteredModeKey = -1;
    private long tableFills;
    private final Map<Long, Page> pages = new HashMap<>();
    private final Map<Long, Site> sites = new HashMap<>();
    private long generation;
    /** The exit the last run left by, and its page's version then: chained if the next native block is its target. */
    private Site pending;
    private int pendingVersion;
    /** The version of the entered block's page at the last {@link #enter}. */
    private int enteredVersion;
    private long made, dropped;

    NativeChains(CodeCache cache, CodePages codePages, Mmu mmu, NativeState state) {
        this.state = state;
        this.cache = cache;
        this.codePages = codePages;
        this.mmu = mmu;
        this.generation = cache.generation();
        this.seenChanges = codePages.changes();
    }

    /** Forgets everything when the cache flushed: the code, and with it every patched jump, is gone. */
    private void sync() {
        if (cache.generation() == generation) return;
        generation = cache.generation();
        epoch++;
        pages.clear();
        sites.clear();
        cross.clear();
        pending = null;
    }

    /** Notes a block just installed at {@code offset}: its exits can be chained from, it can be chained to. */
    void installed(DecodedBlock b, long offset, BlockFrame frame) {
        sync();
        b.nativeChainEntry = frame.chainEntry() < 0 ? -1 : offset + frame.chainEntry();
        b.nativePage = null;
        if (b.page2Host >= 0 || frame.chainEntry() < 0) return; // a block crossing a page end is never chained
        Page p = pages.computeIfAbsent(b.pageHost, k -> {
            Page n = new Page(k);
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
        checkCross();
        if (b.modeKey != enteredModeKey) {
            enteredModeKey = b.modeKey;
            epoch++;
            dropCounts[EPOCH_MODE]++;
        }
        Page p = b.nativePage; // set by installed() in this generation (Cpu translates again after a flush)
        int v = codePages.version(b.pageHost);
        enteredVersion = v;
        if (p != null && p.version != v) drop(p, v);
        if (p != null && b.nativeChainEntry >= 0 && b.nativeGeneration == generation) {
            long at = 32L * (b.rip & (NativeStackForms.TABLE_ENTRIES - 1));
            table.set(ValueLayout.JAVA_LONG, at, b.rip);
            table.set(ValueLayout.JAVA_LONG, at + 8, cache.address(b.nativeChainEntry));
            table.set(ValueLayout.JAVA_LONG, at + 16, tableEpoch());
            int slot = (int) (at >>> 5);
            boolean global = mmu.codePageGlobal(b.linear);
            slotGlobal[slot] = global;
            if (!global && !listed[slot]) {
                listed[slot] = true;
                nonGlobal[nonGlobalCount++] = slot;
            }
            tableFills++;
        }
        state.indirectTable(table.address(), tableEpoch());
        Site x = pending;
        pending = null;
        if (x == null) return;
        if (x.target != b.rip) {
            missedCounts[0]++;
            return;
        }
        if (p == null || b.nativeChainEntry < 0 || b.nativeGeneration != generation) {
            missedCounts[1]++;
            return;
        }
        if (x.modeKey != b.modeKey) {
            missedCounts[2]++;
            return;
        }
        boolean samePage = x.page == p && x.linearPage == b.linear >>> 12;
        if (samePage && pendingVersion != v) {
            missedCounts[3]++;
            return;
        }
        cache.write(x.chainJump + 1, rel32(x.chainJump, b.nativeChainEntry));
        cache.write(x.site + 1, rel32(x.site, x.chain));
        Chain c = new Chain(x, p, !samePage, !samePage && mmu.codePageGlobal(b.linear));
        p.chained.add(c);
        made++;
        if (c.cross) {
            long source = x.linearPage << 12;
            c.madeUser = mmu.user();
            c.madeGeneration = mmu.generation();
            c.sourceKernelOnly = !c.madeUser && !mmu.userFetchable(source);
            c.sourceGlobal = c.sourceKernelOnly && mmu.codePageGlobal(source);
            cross.add(c);
            crossMade++;
        }
    }

    /**
     * Drops the chains across pages that may no longer hold: all of them after a CPL or global-generation change,
     * those into non-global pages after a TLB generation change; and, when some code page's version moved, the
     * chains into every page whose code changed. Notes the keys of now for the chains made next.
     */
    private void checkCross() {
        int gen = mmu.generation(), global = mmu.globalGeneration();
        boolean user = mmu.user();
        if (gen != crossGeneration || global != crossGlobal) {
            boolean all = global != crossGlobal;
            if (all) {
                epoch++;
                dropCounts[EPOCH_TLB]++;
            } else {
                dropNonGlobalEntries();
            }
            dropCross(all ? DROP_GLOBAL : DROP_TLB, c -> all || !c.global);
            crossGeneration = gen;
            crossGlobal = global;
        }
        if (user != crossUser) {
            crossUser = user;
            // Into CPL 3: a chain made at CPL 0 is reached at CPL 3 only from a source page CPL 3 can fetch, so those
            // whose source it could not fetch (the kernel's own code), known under this TLB generation or global,
            // stay. Into CPL 0 every chain stays: Flint has no SMEP, so whatever CPL 3 may fetch CPL 0 may too.
            if (user) {
                dropCross(DROP_CPL, c -> !c.madeUser && !(c.sourceKernelOnly && (c.madeGeneration == gen || c.sourceGlobal)));
            }
        }
        long changes = codePages.changes();
        if (changes != seenChanges) {
            seenChanges = changes;
            epoch++;
            dropCounts[EPOCH_CODE]++;
            for (Page q : pages.values()) {
                int v = codePages.version(q.host);
                if (q.version != v) drop(q, v);
            }
            cross.removeIf(c -> !c.live); // dropped with their page: the list keeps live chains only
        }
    }

    /**
     * At a TLB-generation change with the global generation kept (a CR3 write, an INVLPG of a non-global page): the
     * table's entries into non-global pages are emptied (epoch 0, never current), those into global pages stay, as
     * the chains into them do. Renewing the epoch instead emptied the whole table at every context switch: 2.06 M of
     * the bench guest's 4.0 M RET misses found their target's entry of an older epoch.
     */
    private void dropNonGlobalEntries() {
        // Only listed slots can hold a non-global entry of a non-zero epoch: every other was emptied at the last drop
        // or written with a global block since.
        for (int k = 0; k < nonGlobalCount; k++) {
            int i = nonGlobal[k];
            listed[i] = false;
            if (!slotGlobal[i] && table.get(ValueLayout.JAVA_LONG, 32L * i + 16) != 0) {
                table.set(ValueLayout.JAVA_LONG, 32L * i + 16, 0);
                dropCounts[TABLE_NON_GLOBAL]++;
            }
        }
        nonGlobalCount = 0;
    }

    /** Drops the chains across pages {@code drop} selects (counted under {@code why}); keeps the rest listed. */
    private void dropCross(int why, java.util.function.Predicate<Chain> drop) {
        List<Chain> kept = new ArrayList<>();
        for (Chain c : cross) {
            if (!c.live) continue;
            if (drop.test(c)) {
                dropCounts[why]++;
                unpatch(c);
                c.into.chained.remove(c);
            } else {
                kept.add(c);
            }
        }
        cross.clear();
        cross.addAll(kept);
    }

    /**
     * The epoch the indirect-jump table's entries carry now: one sequence per CPL (the low bit), so that an entry
     * made at one CPL is never taken at the other (a RET at CPL 3 must not jump into kernel code found usable at
     * CPL 0), and a system call's round trip keeps both CPLs' entries.
     */
    private long tableEpoch() { return epoch << 1 | (mmu.user() ? 1 : 0); }

    /** Called after a native run that left by the exit at host address {@code exitSite} (0: by the budget). */
    void exited(long exitSite) {
        pending = exitSite == 0 ? null : sites.get(exitSite - cache.address(0));
        pendingVersion = enteredVersion;
    }

    /** Puts every chained exit of {@code p} back on its way to Java and notes version {@code v} for new chains. */
    private void drop(Page p, int v) {
        for (Chain c : p.chained) {
            if (c.live) dropCounts[DROP_CODE]++;
            unpatch(c);
        }
        p.chained.clear();
        p.version = v;
    }

    /** Sends a chained exit back to Java (once). */
    private void unpatch(Chain c) {
        if (!c.live) return;
        c.live = false;
        cache.write(c.site.site + 1, rel32(c.site.site, c.site.slow));
        dropped++;
        if (c.cross) crossDropped++;
    }

    private static byte[] rel32(long jump, long target) {
        int r = BlockFrame.Exit.rel32(jump, target);
        return new byte[] {(byte) r, (byte) (r >> 8), (byte) (r >> 16), (byte) (r >> 24)};
    }

    /** Chains dropped and table epochs bumped, by {@link #DROP_REASONS} (census). */
    long[] dropCounts() { return dropCounts; }

    /** Chainable exits not chained at the next entry, by {@link #MISSED} (census). */
    long[] missedCounts() { return missedCounts; }

    /**
     * The table's slot for {@code rip} (census): 0 empty, 1 its entry of an older epoch, 2 current, 3 another RIP's
     * entry (of any epoch).
     */
    int tableState(long rip) {
        long at = 32L * (rip & (NativeStackForms.TABLE_ENTRIES - 1));
        long held = table.get(ValueLayout.JAVA_LONG, at);
        if (held == 0) return 0;
        if (held != rip) return 3;
        return table.get(ValueLayout.JAVA_LONG, at + 16) == tableEpoch() ? 2 : 1;
    }

    /** {@link CodePages#changes()} now (census). */
    long codeChanges() { return codePages.changes(); }

    /** Exits chained so far (tests, statistics). */
    long made() { return made; }

    /** Chained exits dropped because their page's code changed (tests, statistics). */
    long dropped() { return dropped; }

    /** Exits chained across pages so far, and those of them dropped (tests, statistics). */
    long crossMade() { return crossMade; }

    long crossDropped() { return crossDropped; }

    /** Blocks written into the indirect-jump table (tests, statistics). */
    long tableFills() { return tableFills; }

    /** Exits chained now. */
    int live() {
        sync();
        int n = 0;
        for (Page p : pages.values()) for (Chain c : p.chained) if (c.live) n++;
        return n;
    }
}
