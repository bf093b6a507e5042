package dev.flint.engine.emu;

import dev.flint.engine.emu.cpu.Cpu;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A developer's tool for speeding up the emu engine: samples every vCPU's instruction pointer once a
 * millisecond and, when the VM closes, writes the sampled addresses with their counts, most frequent
 * first, plus the executed-instruction rate. Map the addresses to symbols with the kernel's System.map
 * (boot with {@code nokaslr}). Enabled with {@code -Dflint.emu.profile=FILE}; off by default, and the
 * vCPU threads pay nothing for it (the sampler reads their state racily, which is fine for a histogram).
 */
final class GuestProfiler implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(GuestProfiler.class.getName());

    private final Path output;
    private final List<Cpu> cpus;
    private final Map<Long, Integer> samples = new HashMap<>();
    private final Thread thread;
    private final long startNanos = System.nanoTime();
    private volatile boolean running = true;
    private long halted;
    /** With {@code flint.emu.profile.from=HEX}: the code page whose first sample starts the profile (-1: from the start). */
    private final long fromPage = fromPage();
    private long[] base;
    /** Each vCPU's {@link dev.flint.engine.emu.cpu.ReplayCensus} at the start of the profile. */
    private final long[][] censusBase;
    private double baseSeconds;

    private GuestProfiler(Path output, List<Cpu> cpus) {
        this.output = output;
        this.cpus = cpus;
        this.censusBase = new long[cpus.size()][];
        this.thread = Thread.ofPlatform().name("flint-emu-profiler").daemon(true).start(this::sample);
    }

    private static long fromPage() {
        String from = System.getProperty("flint.emu.profile.from");
        return from == null ? -1 : Long.parseUnsignedLong(from.replaceFirst("^0x", ""), 16) & ~0xFFFL;
    }

    /**
     * Summed over the vCPUs: instructions, compiled, replayed, in user mode, blocks decoded, lookups, linked
     * entries, TLB flushes, CR3 writes that kept their PCID's translations, pause-loop exits, PAUSEs.
     */
    private long[] totals() {
        long[] t = new long[12];
        for (Cpu c : cpus) {
            var st = c.statistics();
            long[] v = {st.instructions(), st.compiledInstructions(), st.replayedInstructions(), st.userInstructions(),
                    st.blocksBuilt(), st.lookups(), st.linkedEntries(), c.mmu().flushes(), c.mmu().keptSwitches(),
                    c.pauseLoopExits(), c.pauses(), st.nativeInstructions()};
            for (int i = 0; i < t.length; i++) t[i] += v[i];
        }
        return t;
    }

    /** A profiler if {@code flint.emu.profile} names a file, else null. */
    static GuestProfiler fromSystemProperty(List<Cpu> cpus) {
        String file = System.getProperty("flint.emu.profile");
        return file == null || file.isBlank() ? null : new GuestProfiler(Path.of(file), cpus);
    }

    private void sample() {
        while (running) {
            if (fromPage != -1 && base == null) {
                for (Cpu cpu : cpus) {
                    if ((cpu.s.rip & ~0xFFFL) == fromPage) {
                        base = totals();
                        for (int i = 0; i < cpus.size(); i++) censusBase[i] = cpus.get(i).census().snapshot();
                        baseSeconds = (System.nanoTime() - startNanos) / 1e9;
                        samples.clear();
                        halted = 0;
                    }
                }
            }
            for (Cpu cpu : cpus) {
                if (cpu.halted()) halted++;
                else samples.merge(cpu.s.rip, 1, Integer::sum);
            }
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    @Override
    public void close() {
        running = false;
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        double seconds = (System.nanoTime() - startNanos) / 1e9 - baseSeconds;
        long[] t = totals();
        if (base != null) for (int i = 0; i < t.length; i++) t[i] -= base[i];
        long instructions = t[0];
        try (PrintWriter out = new PrintWriter(Files.newBufferedWriter(output))) {
            if (base != null) out.printf("# from the first sample in page %x on (after %.1f s)%n", fromPage, baseSeconds);
            out.printf("# %.1f s, %d instructions, %.1f M instructions/s, %d halted samples%n",
                    seconds, instructions, instructions / seconds / 1e6, halted);
            out.printf("# %.1f%% of instructions ran as native code, %.1f%% in compiled blocks, %.1f%% replayed, %.1f%% decoded;"
                            + " %.1f%% in user mode%n", 100.0 * t[11] / instructions,
                    100.0 * t[1] / instructions, 100.0 * t[2] / instructions,
                    100.0 * (instructions - t[11] - t[1] - t[2]) / instructions, 100.0 * t[3] / instructions);
            out.println("# " + Cpu.compileSummary());
            out.println("# " + t[4] + " blocks decoded, " + t[7] + " TLB flushes, " + t[8] + " CR3 writes that kept their PCID's translations");
            out.println("# " + t[9] + " pause-loop exits in " + t[10] + " PAUSEs");
            out.printf("# block entries: %d through a direct link, %d through the cache lookup (%.1f%% linked)%n",
                    t[6], t[5], 100.0 * t[6] / Math.max(1, t[5] + t[6]));
            for (int i = 0; i < cpus.size(); i++) {
                var lines = dev.flint.engine.emu.cpu.ReplayCensus.report(cpus.get(i).census().snapshot(), censusBase[i], 40);
                if (!lines.isEmpty()) out.println("# replayed encodings of a vCPU (count, how, prefixes opcode /reg, operand size):");
                for (String line : lines) out.println("# " + line);
            }
            for (Cpu cpu : cpus) {
                out.println("# hottest blocks of a vCPU (entries x instructions):");
                for (String line : cpu.hotBlocks(40)) out.println("# " + line);
            }
            samples.entrySet().stream()
                    .sorted(Map.Entry.<Long, Integer>comparingByValue().reversed())
                    .forEach(e -> out.printf("%016x %d%n", e.getKey(), e.getValue()));
        } catch (IOException e) {
            LOG.log(Level.WARNING, "emu profile not written to " + output + ": " + e.getMessage());
        }
    }
}
