package dev.flint.engine.emu.nativecode;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * One vCPU's state as translated code sees it: a small off-heap struct of longs that {@link BlockFrame}'s entry
 * code loads into host registers and host RFLAGS, and its exit code stores back. The caller fills it before
 * entering a block (registers, RIP, flags, budget) and reads it afterwards (registers, flags, RIP, why and after
 * how many instructions the block left).
 *
 * <p>Layout (byte offsets): the 16 GPRs in encoding order at 0..120, {@link #RIP}, {@link #FLAGS} (the six
 * arithmetic flags CF PF AF ZF SF OF at their RFLAGS bit positions; nothing else of RFLAGS goes to the host),
 * {@link #EXIT_REASON}, {@link #EXIT_COUNT} (instructions completed in the block), {@link #BUDGET} (instructions
 * still allowed: a block does not start with fewer left than it has, and subtracts what it ran).
 *
 * <p>One thread uses a state at a time (its vCPU's); the memory is freed by {@link #close}.
 */
public final class NativeState implements AutoCloseable {
    public static final int RIP = 128, FLAGS = 136, EXIT_REASON = 144, EXIT_COUNT = 152, BUDGET = 160;
    /** The host address of the exit a block left by ({@link BlockFrame.Exit#site}), 0 for a budget exit. */
    public static final int EXIT_SITE = 168;
    /**
     * The indirect-jump table (docs/emu-native.md, "emustack"): the epoch its entries must carry to be used, the
     * table's address, and a slot for the target a hit jumps to.
     */
    public static final int IJT_EPOCH = 176, IJT_TABLE = 184, IJT_TARGET = 192;
    /**
     * The FS and GS bases (docs/emu-native.md, "emufsgs"): copied in from the vCPU at every entry from Java, read
     * by the memory forms with an FS/GS override. No translated instruction changes a base.
     */
    public static final int FS_BASE = 200, GS_BASE = 208;
    /**
     * The direction flag, 1 when set (docs/emu-native.md, "emurep"): copied in at every entry from Java, read by the
     * string forms (which run only with DF = 0). No translated instruction changes DF.
     */
    public static final int DIRECTION = 216;
    /**
     * The kick word (docs/emu-native.md, "emuexit2"): non-zero when another thread (or the vCPU's own Java code) asks
     * the vCPU to come back to Java (an interrupt raised, a pause or stop asked for, the timer due). Every chain entry
     * tests it beside the budget and leaves as a budget exit when it is set, so a long native run ends within one
     * block of a kick. It is a word of its own because the blocks' {@code sub [budget], n} is not atomic: a budget
     * written by another thread could be overwritten by it, a kick written here never is (native code only reads it).
     */
    public static final int KICK = 224;
    static final int SIZE = 256;
    /** The RFLAGS bits that travel between the struct and the host: CF PF AF ZF SF OF. */
    public static final long ARITH_FLAGS = 0x8D5;

    private final Arena arena = Arena.ofShared();
    private final MemorySegment mem = arena.allocate(SIZE, 64);

    /**
     * The indirect-jump table's size (32-byte entries): 1,024 entries until emuexit2, now 8,192 (flint.emu.native.ijtEntries,
     * a power of two from 256 to 65,536; docs/emu-native.md, "emuexit2", has the misses by size).
     */
    public static final int IJT_BYTES = 32 * tableEntries(Integer.getInteger("flint.emu.native.ijtEntries", 8192));

    private static int tableEntries(int n) {
        if (n < 256 || n > 65_536 || Integer.bitCount(n) != 1) {
            throw new IllegalArgumentException("flint.emu.native.ijtEntries: a power of two from 256 to 65536, not " + n);
        }
        return n;
    }

    /**
     * The table until {@link #indirectTable} names one: large enough for any masked index a RET computes (at most
     * {@link #IJT_BYTES}), all zero, and an epoch of -1 that no entry carries, so that every lookup misses.
     * One for all states (emuexit2), declared after {@link #IJT_BYTES} (static fields are set in written order).
     */
    private static final MemorySegment EMPTY_TABLE = Arena.global().allocate(IJT_BYTES, 64);

    {
        indirectTable(EMPTY_TABLE.address(), -1);
    }

    /** Where the struct is: the argument a block is entered with. */
    public long address() { return mem.address(); }

    public long gpr(int n) { return mem.get(JAVA_LONG, 8L * check(n)); }

    public void gpr(int n, long value) { mem.set(JAVA_LONG, 8L * check(n), value); }

    /** Copies 16 registers in from {@code from} (a vCPU's register file). */
    public void loadGprs(long[] from) {
        MemorySegment.copy(from, 0, mem, JAVA_LONG, 0, 16);
    }

    /** Copies the 16 registers out into {@code to}. */
    public void storeGprs(long[] to) {
        MemorySegment.copy(mem, JAVA_LONG, 0, to, 0, 16);
    }

    public long rip() { return mem.get(JAVA_LONG, RIP); }

    public void rip(long value) { mem.set(JAVA_LONG, RIP, value); }

    /** The six arithmetic flags (RFLAGS positions; other bits are never set). */
    public long flags() { return mem.get(JAVA_LONG, FLAGS); }

    /** Sets the arithmetic flags; other bits of {@code rflags} are dropped, so none of them can reach the host. */
    public void flags(long rflags) { mem.set(JAVA_LONG, FLAGS, rflags & ARITH_FLAGS); }

    public long exitReason() { return mem.get(JAVA_LONG, EXIT_REASON); }

    public long exitCount() { return mem.get(JAVA_LONG, EXIT_COUNT); }

    public long budget() { return mem.get(JAVA_LONG, BUDGET); }

    /** Sets the indirect-jump table's address and the epoch its entries must carry. */
    public void indirectTable(long table, long epoch) {
        mem.set(JAVA_LONG, IJT_TABLE, table);
        mem.set(JAVA_LONG, IJT_EPOCH, epoch);
    }

    /** Sets the FS and GS bases that FS/GS-relative memory operands add to their effective address. */
    public void segmentBases(long fs, long gs) {
        mem.set(JAVA_LONG, FS_BASE, fs);
        mem.set(JAVA_LONG, GS_BASE, gs);
    }

    /** Sets the direction flag the string forms see (emurep). */
    public void direction(boolean set) { mem.set(JAVA_LONG, DIRECTION, set ? 1 : 0); }

    public long fsBase() { return mem.get(JAVA_LONG, FS_BASE); }

    public long gsBase() { return mem.get(JAVA_LONG, GS_BASE); }

    /** The host address of the exit the last run left by (a branch or stop exit), else 0. */
    public long exitSite() { return mem.get(JAVA_LONG, EXIT_SITE); }

    public void budget(long value) { mem.set(JAVA_LONG, BUDGET, value); }

    private static final java.lang.invoke.VarHandle WORD = JAVA_LONG.varHandle();

    /** Sets the kick word (any thread): chained blocks leave at their next chain entry. */
    public void kick() { WORD.setVolatile(mem, (long) KICK, 1L); }

    /** Clears the kick word (the vCPU's thread, before it looks for what a kick may have announced). */
    public void clearKick() { WORD.setVolatile(mem, (long) KICK, 0L); }

    public boolean kicked() { return (long) WORD.getVolatile(mem, (long) KICK) != 0; }

    private static int check(int n) {
        if (n < 0 || n > 15) throw new IndexOutOfBoundsException("no register " + n);
        return n;
    }

    @Override
    public void close() { arena.close(); }
}
