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

    private GuestProfiler(Path output, List<Cpu> cpus) {
        this.output = output;
        this.cpus = cpus;
        this.thread = Thread.ofPlatform().name("flint-emu-profiler").daemon(true).start(this::sample);
    }

    /** A profiler if {@code flint.emu.profile} names a file, else null. */
    static GuestProfiler fromSystemProperty(List<Cpu> cpus) {
        String file = System.getProperty("flint.emu.profile");
        return file == null || file.isBlank() ? null : new GuestProfiler(Path.of(file), cpus);
    }

    private void sample() {
        while (running) {
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
        double seconds = (System.nanoTime() - startNanos) / 1e9;
        long instructions = cpus.stream().mapToLong(c -> c.statistics().instructions()).sum();
        try (PrintWriter out = new PrintWriter(Files.newBufferedWriter(output))) {
            long compiled = cpus.stream().mapToLong(c -> c.statistics().compiledInstructions()).sum();
            long replayed = cpus.stream().mapToLong(c -> c.statistics().replayedInstructions()).sum();
            out.printf("# %.1f s, %d instructions, %.1f M instructions/s, %d halted samples%n",
                    seconds, instructions, instructions / seconds / 1e6, halted);
            out.printf("# %.1f%% of instructions ran in compiled blocks, %.1f%% replayed, %.1f%% decoded%n",
                    100.0 * compiled / instructions, 100.0 * replayed / instructions,
                    100.0 * (instructions - compiled - replayed) / instructions);
            out.println("# " + Cpu.compileSummary());
            out.println("# " + cpus.stream().mapToLong(c -> c.statistics().blocksBuilt()).sum() + " blocks decoded");
            long lookups = cpus.stream().mapToLong(c -> c.statistics().lookups()).sum();
            long linked = cpus.stream().mapToLong(c -> c.statistics().linkedEntries()).sum();
            out.printf("# block entries: %d through a direct link, %d through the cache lookup (%.1f%% linked)%n",
                    linked, lookups, 100.0 * linked / Math.max(1, linked + lookups));
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
