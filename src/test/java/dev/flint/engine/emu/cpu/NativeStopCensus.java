package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.EmuTestRig;

import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;

/**
 * A load-independent census of what stops the native translator on an {@code InterpreterBenchmark} workload
 * (docs/emu-native.md, "emuforms"): runs the workload once with the native tier on and the compile threshold at 0,
 * then, for every decoded block, finds the first instruction the translator does not take (what the block's
 * translation stops before) and adds the block's entries to that instruction's opcode/ModRM.reg bucket. Blocks
 * translated whole count under "whole". Entries, not instructions: a block runs natively only when whole.
 *
 * <p>{@code java --enable-native-access=ALL-UNNAMED -Dcalls=N -cp target/classes:target/test-classes
 * dev.flint.engine.emu.cpu.NativeStopCensus [sha256|mpi|rounds|calls|branchy|loop]}
 */
public final class NativeStopCensus {
    private NativeStopCensus() {}

    public static void main(String[] args) throws Exception {
        String workload = args.length > 0 ? args[0] : "sha256";
        var f = Class.forName("dev.flint.engine.emu.bench.InterpreterBenchmark").getDeclaredField(workload.toUpperCase());
        f.setAccessible(true);
        byte[] code = HexFormat.of().parseHex((String) f.get(null));
        if (workload.equals("sha256")) {
            int calls = Integer.getInteger("calls", 2000);
            for (int i = 0; i < 4; i++) code[1 + i] = (byte) (calls >>> (8 * i));
        }
        EmuTestRig rig = new EmuTestRig().compileThreshold(0).nativeTier(true);
        long[] gpr = new long[16];
        gpr[4] = EmuTestRig.STACK_TOP;
        EmuTestRig.Result r = rig.slices(4096).run(code, EmuTestRig.State.of(gpr, 2), new byte[0], 0, Long.MAX_VALUE);
        Cpu cpu = rig.cpu();
        var bf = Cpu.class.getDeclaredField("blocks");
        bf.setAccessible(true);
        BlockCache cache = (BlockCache) bf.get(cpu);
        Map<String, long[]> byStop = new TreeMap<>();
        long entries = 0;
        for (DecodedBlock b : cache.blocks()) {
            if (b.insns == null) continue;
            String key = "whole";
            String where = "";
            for (DecodedInsn d : b.insns) {
                if (NativeTranslator.shape(d) == null && !NativeAluForms.translates(d) && NativeMemoryForms.access(d) == 0) {
                    key = String.format("%s%02x /%d%s%s", d.twoByte ? "0f " : "", d.opcode, d.reg & 7,
                            d.memOp ? " mem" : "", d.seg >= CpuState.FS ? " fs/gs" : "");
                    where = String.format("%x", d.rip);
                    break;
                }
                if (NativeTranslator.shape(d) != null && (d.fast == FastPath.JMP)) break;
            }
            long[] v = byStop.computeIfAbsent(key, k -> new long[3]);
            v[0] += b.entries;
            v[1] += b.entries * b.insns.length;
            v[2]++;
            entries += b.entries;
            if (!where.isEmpty() && b.entries > 0) {
                System.out.printf("block %x (%d insns, %d entries) stops at %s: %s%n", b.linear, b.insns.length,
                        b.entries, where, key);
            }
        }
        System.out.printf("%s: %d instructions, %d native, %d compiled, %d replayed; %d block entries%n", workload,
                r.instructions(), rig.statistics().nativeInstructions(), rig.statistics().compiledInstructions(),
                rig.statistics().replayedInstructions(), entries);
        System.out.println("first untranslated instruction (opcode /reg): block entries, instructions in those blocks, blocks");
        byStop.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue()[1], a.getValue()[1]))
                .forEach(e -> System.out.printf("  %-22s %12d %14d %6d%n", e.getKey(), e.getValue()[0], e.getValue()[1],
                        e.getValue()[2]));
    }
}
