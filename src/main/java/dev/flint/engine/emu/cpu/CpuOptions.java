package dev.flint.engine.emu.cpu;

/**
 * How a {@link Cpu} runs, fixed when it is built: the CPU copies each option into a final field once, so
 * nothing here is read again on the per-instruction path.
 *
 * @param blockCache       keep decoded blocks and replay them (off: every instruction is decoded from
 *                         memory each time; slower, and the reference the block tiers are tested against)
 * @param compileThreshold entries after which a decoded block is compiled to bytecode (0 = never)
 * @param stopOnFault      test rigs: stop {@link Cpu#execute} at a guest fault ({@link Cpu#lastFault} says
 *                         which) instead of delivering it through the IDT
 * @param nativeTier       run decoded 64-bit blocks whose every instruction the native translator covers as
 *                         x86-64 host code ({@link NativeTranslator}, docs/emu-native.md; ignored on hosts that
 *                         cannot run it). The engine runs with it ({@link #fromSystemProperties}); the test rigs'
 *                         {@link #defaults} leave it off, so that they test the JVM tiers unless they ask for it
 */
public record CpuOptions(boolean blockCache, long compileThreshold, boolean stopOnFault, boolean nativeTier) {

    /**
     * Entries before a block is compiled: hot loops only, since each compiled block is a class the JVM
     * must load and compile in turn. Boots of the stock kernel to a marker on a loaded 2-core host,
     * medians of 2-4: 8,000 19.4 s, 20,000 17.9 s, 50,000 16.7 s, 100,000 18.4 s.
     */
    public static final long DEFAULT_COMPILE_THRESHOLD = 50_000;

    public CpuOptions {
        if (compileThreshold < 0) throw new IllegalArgumentException("compileThreshold must be >= 0: " + compileThreshold);
    }

    /**
     * The JVM tiers' defaults: blocks on, the tuned threshold, faults delivered, no native tier (what test rigs
     * build on; the engine adds the native tier in {@link #fromSystemProperties}).
     */
    public static CpuOptions defaults() {
        return new CpuOptions(true, DEFAULT_COMPILE_THRESHOLD, false, false);
    }

    /**
     * What the engine runs: the defaults with the native tier on, as changed by the diagnostic switches
     * {@code -Dflint.emu.blockCache=false}, {@code -Dflint.emu.compileThreshold=N} and {@code -Dflint.emu.native=off};
     * the only place the engine reads them. The native tier is on because it pays on the stock kernel
     * (docs/emu-native.md, "Lead, session 15": boot and the in-guest sha256 both faster) and the exactness set
     * passes over it.
     */
    public static CpuOptions fromSystemProperties() {
        CpuOptions d = defaults();
        return new CpuOptions(!"false".equals(System.getProperty("flint.emu.blockCache")),
                Long.getLong("flint.emu.compileThreshold", d.compileThreshold()), d.stopOnFault(),
                !"off".equals(System.getProperty("flint.emu.native")));
    }

    public CpuOptions withBlockCache(boolean on) { return new CpuOptions(on, compileThreshold, stopOnFault, nativeTier); }

    public CpuOptions withCompileThreshold(long entries) { return new CpuOptions(blockCache, entries, stopOnFault, nativeTier); }

    public CpuOptions withStopOnFault(boolean on) { return new CpuOptions(blockCache, compileThreshold, on, nativeTier); }

    public CpuOptions withNativeTier(boolean on) { return new CpuOptions(blockCache, compileThreshold, stopOnFault, on); }
}
