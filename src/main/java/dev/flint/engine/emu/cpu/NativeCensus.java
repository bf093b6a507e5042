package dev.flint.engine.emu.cpu;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import dev.flint.engine.emu.nativecode.BlockFrame;
import dev.flint.engine.emu.nativecode.CodeCache;

/**
 * A developer's count of what the native tier ({@link CpuOptions#nativeTier}) does on a real guest, so that the
 * forms worth translating next can be read off a boot: Java entries into native code, native exits by reason,
 * chains made and dropped, and for every entry of a block that did not run natively why not, keyed by the block's
 * first untranslated instruction (opcode, ModRM.reg, memory operand, operand size, prefixes, mode, CPL) and
 * weighted by the entry and by the block's instructions. On only with {@code -Dflint.emu.native.census=FILE}
 * ({@code stderr} prints there): read once, so that off the hooks in {@link Cpu} test one static final flag the JIT
 * folds away. Every vCPU's counts are summed and written when the JVM exits.
 */
final class NativeCensus {
    /** Where the report goes, or null (off). */
    private static final String TARGET = System.getProperty("flint.emu.native.census");
    static final boolean ENABLED = TARGET != null && !TARGET.isEmpty();

    /** Exits of a native run, by what Java sees after it (chains stay on one page: so does a run). */
    static final int BRANCH_SAME_PAGE = 0, BRANCH_OTHER_PAGE = 1, END_SAME_PAGE = 2, END_OTHER_PAGE = 3,
            ACCESS_TO_JAVA = 4, BUDGET = 5, NOTHING_RAN = 6, RET_MISS = 7, ACCESS_CODE_STORE = 8;
    private static final String[] EXITS = {"branch, target on the page", "branch, target on another page",
            "end of the translated code, next on the page", "end of the translated code, next on another page",
            "memory access for Java (soft-TLB miss)", "budget", "entered but no instruction ran",
            "RET whose target was not in the indirect-jump table",
            "memory access for Java, then a code page changed before the next native entry (store into code)"};

    private static final List<NativeCensus> ALL = new ArrayList<>();

    static {
        if (ENABLED) Runtime.getRuntime().addShutdownHook(new Thread(NativeCensus::writeReport, "flint-native-census"));
    }

    private final CpuStatistics stats;
    private final NativeChains chains;
    private long javaEntries;
    private final long[] exits = new long[EXITS.length];
    /** Why blocks did not run natively: key -> {entries, instructions}. */
    private final Map<String, long[]> refused = new HashMap<>();
    /** The host addresses of the chainable exits of the blocks installed in cache generation {@link #generation}. */
    private final Set<Long> chainable = new HashSet<>();
    private long generation = -1;
    /** Why the last native run completed no instruction, for the {@link #notNative} that follows it. */
    private String nothingRan = "?";

    NativeCensus(CpuStatistics stats, NativeChains chains) {
        this.stats = stats;
        this.chains = chains;
        synchronized (ALL) { ALL.add(this); }
    }

    /** A block installed at {@code offset}: its chainable exits (every other exit leaves for Java to act). */
    void installed(CodeCache cache, long offset, BlockFrame frame) {
        if (cache.generation() != generation) {
            generation = cache.generation();
            chainable.clear();
        }
        for (BlockFrame.Exit x : frame.exits()) chainable.add(cache.address(offset + x.site()));
    }

    /** After a native run entered at {@code b} from Java, which left with {@code reason}, RIP now {@code rip}. */
    void exited(DecodedBlock b, int reason, NativeTier tier, long rip) {
        javaEntries++;
        long ran = tier.instructions();
        boolean samePage = rip >>> 12 == b.linear >>> 12; // chains stay on the entered block's page
        int kind;
        if (reason == BlockFrame.EXIT_BUDGET) {
            kind = BUDGET;
            nothingRan = "translated, not run: the budget left is smaller than the block";
        } else if (reason == BlockFrame.EXIT_BRANCH && tier.state().exitSite() == 0) {
            kind = RET_MISS;
        } else if (!chainable.contains(tier.state().exitSite())) {
            kind = ran == 0 ? NOTHING_RAN : ACCESS_TO_JAVA;
            nothingRan = "translated, not run: its first instruction's access went to Java";
        } else if (reason == BlockFrame.EXIT_BRANCH) {
            kind = samePage ? BRANCH_SAME_PAGE : BRANCH_OTHER_PAGE;
        } else {
            kind = samePage ? END_SAME_PAGE : END_OTHER_PAGE;
        }
        exits[kind]++;
        lastKind = kind;
        changesAtExit = chains.codeChanges();
        retTarget = kind == RET_MISS ? rip : -1;
        if (kind == RET_MISS) retTable[chains.tableState(rip)]++;
    }

    /** RET misses: what the table held at the target's slot (see {@link NativeChains#tableState}); their targets. */
    private final long[] retTable = new long[4];
    private final long[] retNext = new long[2];
    private long retTarget = -1;
    static final String[] RET_TABLE = {"slot empty", "the target's entry, older epoch", "the target's entry, current epoch (not taken: a miss of its pop or budget)", "another RIP's entry (emuexit2: split from empty)"};
    static final String[] RET_NEXT = {"the next native entry from Java was the RET's target", "it was another block (target not native)"};

    private int lastKind = -1;
    private long changesAtExit;

    /** Before a native entry from Java: moves the last access exit to "store into code" if a code page changed since. */
    void entering(DecodedBlock b) {
        if (retTarget != -1) retNext[b.rip == retTarget ? 0 : 1]++;
        retTarget = -1;
        if (lastKind == ACCESS_TO_JAVA && chains.codeChanges() != changesAtExit) {
            exits[ACCESS_TO_JAVA]--;
            exits[ACCESS_CODE_STORE]++;
        }
        lastKind = -1;
    }

    /** An entry of {@code b} that did not run natively (after {@link #exited} when it was entered and did nothing). */
    void notNative(DecodedBlock b, boolean mode64, int defOpSize, boolean user) {
        String why;
        if (!mode64) why = (defOpSize == 4 ? "32-bit" : "16-bit") + " mode: " + (b.insns == null ? "?" : describe(b.insns[0]));
        else if (b.nativeRefused) why = b.nativeWhy == null ? "refused (before the census)" : b.nativeWhy;
        else why = nothingRan;
        long[] n = refused.computeIfAbsent(why + (user ? ", cpl3" : ", cpl0"), k -> new long[2]);
        n[0]++;
        n[1] += b.insns == null ? 0 : b.insns.length;
    }

    /** Why a block the translator covered only in part ({@code t}, null: not its first instruction) is not native. */
    static String untranslated(DecodedInsn[] insns, NativeTranslator.Translation t) {
        int stop = t == null ? 0 : t.instructions();
        if (stop >= insns.length) return "translated whole";
        if (stop > 0 && insns[stop - 1].fast == FastPath.JMP) return "JMP inside the block";
        return describe(insns[stop]);
    }

    /** Opcode, ModRM.reg, memory operand, operand and address size, prefixes: one line. */
    static String describe(DecodedInsn d) {
        StringBuilder s = new StringBuilder();
        if (d.lock) s.append("lock ");
        if (d.repPrefix == 0xF3) s.append("rep ");
        if (d.repPrefix == 0xF2) s.append("repne ");
        if (d.twoByte) s.append("0f ");
        s.append(String.format("%02x", d.opcode));
        if (d.hasModrm) s.append(" /").append(d.reg & 7).append(d.memOp ? " mem" : " reg");
        s.append(" o").append(8 * d.opSize);
        if (d.memOp && d.adSize != 8) s.append(" a").append(8 * d.adSize);
        if (d.seg == 4) s.append(" fs:");
        if (d.seg == 5) s.append(" gs:");
        return s.toString();
    }

    private static void writeReport() {
        List<String> lines = report();
        try {
            if (TARGET.equals("stderr")) {
                PrintStream err = System.err;
                lines.forEach(err::println);
            } else {
                Files.write(Path.of(TARGET), lines, StandardCharsets.UTF_8);
            }
        } catch (IOException e) {
            System.err.println("native census: cannot write " + TARGET + ": " + e.getMessage());
        }
    }

    /** The summed report of every vCPU counted so far. */
    static List<String> report() {
        long instructions = 0, natively = 0, compiled = 0, replayed = 0, entries = 0, made = 0, dropped = 0;
        long[] ex = new long[EXITS.length];
        long[] retT = new long[4], retN = new long[2];
        long[] drops = new long[NativeChains.DROP_REASONS.length], missed = new long[NativeChains.MISSED.length];
        Map<String, long[]> why = new HashMap<>();
        int cpus;
        synchronized (ALL) {
            cpus = ALL.size();
            for (NativeCensus c : ALL) {
                instructions += c.stats.instructions;
                natively += c.stats.nativeInstructions;
                compiled += c.stats.compiledInstructions;
                replayed += c.stats.replayedInstructions;
                entries += c.javaEntries;
                if (c.chains != null) {
                    made += c.chains.made();
                    dropped += c.chains.dropped();
                    long[] d = c.chains.dropCounts();
                    for (int i = 0; i < d.length; i++) drops[i] += d[i];
                    for (int i = 0; i < 4; i++) retT[i] += c.retTable[i];
                    for (int i = 0; i < 2; i++) retN[i] += c.retNext[i];
                    long[] m = c.chains.missedCounts();
                    for (int i = 0; i < m.length; i++) missed[i] += m[i];
                }
                for (int i = 0; i < ex.length; i++) ex[i] += c.exits[i];
                c.refused.forEach((k, v) -> {
                    long[] n = why.computeIfAbsent(k, x -> new long[2]);
                    n[0] += v[0];
                    n[1] += v[1];
                });
            }
        }
        List<String> out = new ArrayList<>();
        out.add(String.format("native census (%d vCPUs): instructions %d: native %d (%.2f%%), compiled %d, replayed %d, "
                        + "decoded/stepped %d", cpus, instructions, natively, pct(natively, instructions), compiled, replayed,
                instructions - natively - compiled - replayed));
        out.add(String.format("Java entries into native code %d (%.1f instructions each); chains made %d, dropped %d",
                entries, entries == 0 ? 0.0 : (double) natively / entries, made, dropped));
        for (int i = 0; i < EXITS.length; i++) out.add(String.format("exit: %d %s", ex[i], EXITS[i]));
        for (int i = 0; i < drops.length; i++) out.add(String.format("chains dropped: %d %s", drops[i], NativeChains.DROP_REASONS[i]));
        for (int i = 0; i < 4; i++) out.add(String.format("RET miss, table slot: %d %s", retT[i], RET_TABLE[i]));
        for (int i = 0; i < 2; i++) out.add(String.format("RET miss, then: %d %s", retN[i], RET_NEXT[i]));
        for (int i = 0; i < missed.length; i++) out.add(String.format("exit not chained: %d %s", missed[i], NativeChains.MISSED[i]));
        long allEntries = 0, allInsns = 0;
        for (long[] v : why.values()) {
            allEntries += v[0];
            allInsns += v[1];
        }
        out.add(String.format("block entries not run natively %d (%d instructions' worth), by the first untranslated "
                + "instruction, most instructions first: entries, instructions, %% of those, what", allEntries, allInsns));
        List<Map.Entry<String, long[]>> rows = new ArrayList<>(why.entrySet());
        rows.sort((a, b) -> Long.compare(b.getValue()[1], a.getValue()[1]));
        for (Map.Entry<String, long[]> r : rows) {
            out.add(String.format("  %d %d %.2f%% %s", r.getValue()[0], r.getValue()[1], pct(r.getValue()[1], allInsns),
                    r.getKey()));
        }
        return out;
    }

    private static double pct(long part, long whole) { return whole == 0 ? 0 : 100.0 * part / whole; }
}
