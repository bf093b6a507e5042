package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.EmuTestRig;
import dev.flint.engine.emu.bench.InterpreterBenchmark;

import java.util.HexFormat;

/**
 * Load-independent counts of the native tier on one of {@link InterpreterBenchmark}'s workloads (docs/emu-native.md,
 * "emustack"): instructions run natively, compiled and replayed, Java block entries and how many native
 * instructions run per entry, and the chains made and dropped (within a page and across pages). One run on a fresh
 * CPU, slices of 4,096 as the benchmark. {@code java -cp target/classes:target/test-classes
 * dev.flint.engine.emu.cpu.NativeChainCounts calls} (or sha256, branchy, ...); {@code -Dflint.emu.native=off} for
 * the JVM tiers alone.
 */
public final class NativeChainCounts {
    private NativeChainCounts() {}

    public static void main(String[] args) throws ReflectiveOperationException {
        String workload = args.length > 0 ? args[0] : "calls";
        var field = InterpreterBenchmark.class.getDeclaredField(workload.toUpperCase());
        field.setAccessible(true);
        byte[] code = HexFormat.of().parseHex((String) field.get(null));
        long[] gpr = new long[16];
        gpr[4] = EmuTestRig.STACK_TOP;
        boolean on = !"off".equals(System.getProperty("flint.emu.native", "on"));
        EmuTestRig rig = new EmuTestRig().slices(4096).nativeTier(on);
        EmuTestRig.Result r = rig.run(code, EmuTestRig.State.of(gpr, 2), new byte[0], 0, Long.MAX_VALUE);
        CpuStatistics st = rig.statistics();
        long entries = st.linkedEntries() + st.lookups();
        NativeChains ch = rig.cpu().nativeChains();
        System.out.printf("%s native=%s: %d instructions (%s), %d native, %d compiled, %d replayed; %d Java block entries "
                        + "(%.1f native instructions per entry); chains made %d dropped %d, across pages made %d dropped %d%n",
                workload, on ? "on" : "off", r.instructions(), r.stop(), st.nativeInstructions(), st.compiledInstructions(),
                st.replayedInstructions(), entries, entries == 0 ? 0.0 : (double) st.nativeInstructions() / entries,
                ch == null ? 0 : ch.made(), ch == null ? 0 : ch.dropped(), ch == null ? 0 : ch.crossMade(),
                ch == null ? 0 : ch.crossDropped());
    }
}
