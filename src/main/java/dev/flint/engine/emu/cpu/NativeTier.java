package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.nativecode.CodeCache;
import dev.flint.engine.emu.nativecode.NativeState;

/**
 * One vCPU's native code: its code cache and its {@link NativeState}, and the copies between the state and the
 * vCPU's {@link CpuState} around each entry (GPRs and RIP as they are; the lazily kept flags materialised with
 * {@link Flags#arith()} on the way in and set with {@link Flags#setArith} on the way out; nothing else of RFLAGS
 * travels). Not wired into {@link Cpu} yet (docs/emu-native.md, "Translator, part 1"): tests and benchmarks drive it.
 */
final class NativeTier implements AutoCloseable {
    private final CodeCache cache;
    private final NativeState state = new NativeState();

    /** True on hosts that can run native code (x86-64 Linux). */
    static boolean available() {
        return CodeCache.unavailableReason().isEmpty();
    }

    NativeTier(long capacity) {
        this.cache = CodeCache.create(capacity);
    }

    /** Installs a translation; returns its offset in the cache (a flush may have removed earlier code). */
    long install(NativeTranslator.Translation t) {
        return cache.install(t.code());
    }

    CodeCache cache() { return cache; }

    NativeState state() { return state; }

    /**
     * Runs the block installed at {@code offset} on {@code s} with {@code budget} instructions allowed: copies the
     * registers, RIP, the six arithmetic flags and the FS/GS bases in, enters, copies them back. Returns the exit reason
     * ({@link dev.flint.engine.emu.nativecode.BlockFrame}); {@link #instructions()} says how many instructions ran.
     */
    int run(long offset, CpuState s, long budget) {
        budgetIn = budget;
        state.loadGprs(s.gpr);
        state.rip(s.rip);
        state.flags(s.flags.arith());
        state.budget(budget);
        // Exact at every entry from Java: no translated instruction changes a base (WRMSR, SWAPGS, WRFSBASE,
        // MOV/POP to FS/GS run in Java), so chained blocks and RET-table targets see the bases copied here.
        state.segmentBases(s.segBase[CpuState.FS], s.segBase[CpuState.GS]);
        state.direction(s.flags.direction()); // emurep: likewise, no translated instruction changes DF
        int reason = (int) cache.enter(offset, state.address());
        state.storeGprs(s.gpr);
        s.rip = state.rip();
        s.flags.setArith(state.flags());
        return reason;
    }

    /** The instructions the last {@link #run} completed, in all the blocks it ran (chained ones too). */
    long instructions() { return budgetIn - state.budget(); }

    private long budgetIn;

    @Override
    public void close() {
        cache.close();
        state.close();
    }
}
