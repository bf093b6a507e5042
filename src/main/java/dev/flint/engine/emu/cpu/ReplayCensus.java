package dev.flint.engine.emu.cpu;

import java.util.ArrayList;
import java.util.List;

/**
 * A developer's count of the instructions one CPU replays, by encoding: which ones run as a {@link FastPath}
 * form and which go through the general handler ({@link Interpreter#replay}), so that the forms worth adding
 * can be read off a real workload. On only with {@code -Dflint.emu.profile.replay=true} (the guest profiler
 * prints it); off, the replay loop tests one static final flag the JIT folds away and allocates nothing.
 */
public final class ReplayCensus {
    /** Read once: the replay loop's test of it compiles to nothing when it is false. */
    static final boolean ENABLED = Boolean.getBoolean("flint.emu.profile.replay");

    /** Where an instruction ran: replayed as a fast form, replayed through its handler, or the handler inside a compiled block. */
    static final int FAST = 0, GENERAL = 1, IN_COMPILED = 2;
    private static final String[] WHERE = {"fast", "general", "general-in-compiled"};
    private static final int KEYS = 1 << 18;

    private final long[] counts = ENABLED ? new long[3 * KEYS] : null;

    void count(int where, DecodedInsn d) {
        counts[where * KEYS + key(d)]++;
    }

    /** Opcode (0F-prefixed ones from 256), LOCK, REP kind, operand size, memory operand, ModRM reg field. */
    private static int key(DecodedInsn d) {
        int rep = d.repPrefix == 0xF3 ? 1 : d.repPrefix == 0xF2 ? 2 : 0;
        int size = d.opSize == 8 ? 0 : d.opSize == 4 ? 1 : d.opSize == 2 ? 2 : 3;
        return (d.twoByte ? 256 : 0) | d.opcode | (d.lock ? 1 << 9 : 0) | rep << 10 | size << 12
                | (d.hasModrm && d.memOp ? 1 << 14 : 0) | (d.hasModrm ? d.reg & 7 : 0) << 15 & (7 << 15);
    }

    /** A copy of the counts now (null when off), to subtract from a later one. */
    public long[] snapshot() { return counts == null ? null : counts.clone(); }

    /**
     * What was counted since {@code base} (a {@link #snapshot}, or null): the totals of each way an
     * instruction ran, then for each way its {@code limit} most frequent encodings, one line each: count,
     * where it ran, and the encoding.
     */
    public static List<String> report(long[] now, long[] base, int limit) {
        if (now == null) return List.of();
        List<String> out = new ArrayList<>();
        long[] totals = new long[WHERE.length];
        for (int i = 0; i < now.length; i++) totals[i / KEYS] += now[i] - (base == null ? 0 : base[i]);
        out.add(String.format("replayed: %d as fast forms, %d through the general handler, %d through it inside compiled blocks",
                totals[FAST], totals[GENERAL], totals[IN_COMPILED]));
        for (int w = 0; w < WHERE.length; w++) out.addAll(top(now, base, w, limit));
        return out;
    }

    private static List<String> top(long[] now, long[] base, int where, int limit) {
        List<long[]> rows = new ArrayList<>();
        for (int i = where * KEYS; i < (where + 1) * KEYS; i++) {
            long n = now[i] - (base == null ? 0 : base[i]);
            if (n > 0) rows.add(new long[] {n, i});
        }
        rows.sort((a, b) -> Long.compare(b[0], a[0]));
        List<String> out = new ArrayList<>();
        for (long[] row : rows.subList(0, Math.min(limit, rows.size()))) {
            int i = (int) row[1], k = i % KEYS;
            int op = k & 0x1FF, size = new int[] {8, 4, 2, 1}[k >> 12 & 3];
            String rep = new String[] {"", "rep ", "repne ", "?"}[k >> 10 & 3];
            out.add(String.format("%d %s %s%s%s%02x /%d %s%s", row[0], WHERE[i / KEYS], (k & 1 << 9) != 0 ? "lock " : "",
                    rep, op >= 256 ? "0f " : "", op & 0xFF, k >> 15 & 7, (k & 1 << 14) != 0 ? "mem " : "", "o" + size));
        }
        return out;
    }
}
