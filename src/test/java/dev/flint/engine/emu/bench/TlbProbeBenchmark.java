package dev.flint.engine.emu.bench;

import dev.flint.engine.emu.cpu.CpuState;
import dev.flint.engine.emu.mmu.Mmu;
import dev.flint.engine.emu.mmu.NativeTlb;
import dev.flint.engine.emu.mmu.PhysicalMemory;
import dev.flint.engine.emu.nativecode.CodeCache;
import dev.flint.engine.emu.nativecode.X64Emitter;
import dev.flint.machine.GuestMemory;
import dev.flint.machine.bus.Bus;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;

import static dev.flint.engine.emu.nativecode.X64Emitter.*;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * What a guest load costs through the native soft-TLB probe ({@link X64Emitter#tlbLoad} over an {@link Mmu}'s
 * {@link NativeTlb}) against the JVM tiers' {@link Mmu#read8} of the same addresses, C2-compiled. Not a test: run
 * with {@code java --enable-native-access=ALL-UNNAMED -Drounds=7 -cp target/classes:target/test-classes
 * dev.flint.engine.emu.bench.TlbProbeBenchmark}.
 *
 * <p>Each loop reads 8 bytes at 64 KiB of guest RAM in steps of 72 bytes (16 pages, every access a TLB hit, none
 * crossing a page) and sums them; natively: the same loop with a plain host load (the loop's own cost), with the
 * probe (flags clobbered) and with the probe keeping the host's flags in AX (LAHF; SETO ... ADD AL, 7FH; SAHF),
 * as a translated block must where the guest's flags are live across the access. Each round checks that every
 * variant's sum is the Java loop's. Figures: ns per access on the thread's CPU clock, median of the rounds.
 */
public final class TlbProbeBenchmark {
    private static final int TLB = 0, BASE = 8, COUNT = 16, SUM = 24;
    private static final long PAGES = 16, SPAN = PAGES << 12, LIN = 0x40_0000;
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    public static void main(String[] args) {
        int rounds = Integer.getInteger("rounds", 7);
        long nativeCount = Long.getLong("count", 200_000_000L);
        long javaCount = nativeCount / 4;
        try (GuestMemory memory = GuestMemory.allocate(8L << 20); CodeCache cache = CodeCache.create(64 * 1024);
             Arena arena = Arena.ofConfined()) {
            Mmu mmu = new Mmu(new CpuState(), new PhysicalMemory(memory, new Bus("mmio"), null)); // paging off
            for (long off = 0; off < SPAN; off += 8) memory.writeLong(LIN + off, off * 0x9E37_79B9L);
            for (long p = 0; p < PAGES; p++) mmu.read(LIN + (p << 12), 8); // fill the TLB
            NativeTlb tlb = mmu.nativeTlb();
            long direct = cache.install(loop(0)), probe = cache.install(loop(1)), kept = cache.install(loop(2));
            MemorySegment a = arena.allocate(64, 8);
            String[] names = {"native, plain host load (loop cost)", "native, probe, flags clobbered",
                    "native, probe, flags kept (LAHF/SETO..SAHF)", "Java Mmu.read8, C2-compiled"};
            double[][] ns = new double[4][rounds];
            for (int r = -2; r < rounds; r++) { // two warm-up rounds
                long want = javaSum(mmu, javaCount);
                long t0 = cpu();
                long javaSum = javaSum(mmu, javaCount);
                long javaNs = cpu() - t0;
                if (javaSum != want) throw new IllegalStateException("Java sums differ");
                long[] offsets = {direct, probe, kept};
                for (int v = 0; v < 3; v++) {
                    a.set(JAVA_LONG, TLB, tlb.address());
                    a.set(JAVA_LONG, BASE, v == 0 ? memory.segment().address() + LIN : LIN);
                    a.set(JAVA_LONG, COUNT, nativeCount);
                    long t = cpu();
                    long exit = cache.enter(offsets[v], a.address());
                    long spent = cpu() - t;
                    if (exit != 0) throw new IllegalStateException(names[v] + ": a probe missed");
                    long sum = a.get(JAVA_LONG, SUM), expect = expected(memory, nativeCount);
                    if (sum != expect) throw new IllegalStateException(names[v] + ": sum " + sum + " want " + expect);
                    if (r >= 0) ns[v][r] = (double) spent / nativeCount;
                }
                if (javaSum != expected(memory, javaCount)) throw new IllegalStateException("Java sum differs");
                if (r >= 0) ns[3][r] = (double) javaNs / javaCount;
            }
            System.out.printf("accesses: %,d native, %,d Java a round; %d rounds; load %s%n", nativeCount, javaCount,
                    rounds, loadAverage());
            for (int v = 0; v < 4; v++) {
                double[] s = ns[v].clone();
                Arrays.sort(s);
                System.out.printf("%-46s median %.3f ns/access (min %.3f, max %.3f)%n", names[v], s[rounds / 2], s[0],
                        s[rounds - 1]);
            }
        }
    }

    /**
     * {@code long f(args)}: sums {@code count} 8-byte loads at base + off, off = 0, 72, 144, ... modulo the 64 KiB
     * span; {@code mode} 0 loads straight from the host address (base is one), 1 through the probe, 2 through the
     * probe keeping the flags. Returns 0, or 1 if a probe missed.
     */
    private static X64Emitter loop(int mode) {
        X64Emitter e = new X64Emitter();
        Label top = new Label(), miss = new Label();
        e.push(RBX);
        e.push(R12);
        e.push(RDI);
        e.load(R8, RDI, TLB);
        e.load(RSI, RDI, BASE);
        e.load(RDX, RDI, COUNT);
        e.movImm32(RBX, 0);
        e.movImm32(R12, 0);
        e.bind(top);
        if (mode == 0) {
            e.loadSized(8, R10, RSI, RBX);
        } else {
            e.leaIndexed(R9, RSI, RBX);
            e.tlbLoad(8, R10, R9, R8, NativeTlb.READ_ROW, NativeTlb.INDEX_MASK, R11, RCX, mode == 2, miss);
        }
        e.aluRR(ADD, true, R12, R10);
        e.aluRI(EXT_ADD, RBX, 72);
        e.aluRI(EXT_AND, RBX, (int) (SPAN - 8));
        e.aluRI(EXT_SUB, RDX, 1);
        e.jcc(CC_NZ, top);
        e.pop(RDI);
        e.store(RDI, SUM, R12);
        e.pop(R12);
        e.pop(RBX);
        e.movImm32(RAX, 0);
        e.ret();
        e.bind(miss);
        e.pop(RDI);
        e.pop(R12);
        e.pop(RBX);
        e.movImm32(RAX, 1);
        e.ret();
        return e;
    }

    private static long javaSum(Mmu mmu, long count) {
        long sum = 0, off = 0;
        for (long i = 0; i < count; i++) {
            sum += mmu.read8(LIN + off);
            off = (off + 72) & (SPAN - 8);
        }
        return sum;
    }

    private static long expected(GuestMemory memory, long count) {
        // the loop visits SPAN / 8 offsets in a cycle (72 / 8 = 9 is prime to 8,192): sum whole cycles, then the rest
        long cycle = SPAN / 8, sum = 0, off = 0, whole = 0;
        for (long i = 0; i < cycle; i++) {
            whole += memory.readLong(LIN + off);
            off = (off + 72) & (SPAN - 8);
        }
        sum = whole * (count / cycle);
        off = 0;
        for (long i = 0; i < count % cycle; i++) {
            sum += memory.readLong(LIN + off);
            off = (off + 72) & (SPAN - 8);
        }
        return sum;
    }

    private static long cpu() { return THREADS.getCurrentThreadCpuTime(); }

    private static String loadAverage() {
        try {
            return java.nio.file.Files.readString(java.nio.file.Path.of("/proc/loadavg")).trim();
        } catch (java.io.IOException e) {
            return "?";
        }
    }
}
