package dev.flint.engine.emu.cpu;

/**
 * What one {@link Cpu} has done so far, for the MIPS figure, the guest profiler and tests. Only the CPU's
 * own thread writes it (once per block or per stepped instruction, never per replayed instruction); other
 * threads read approximate values while it runs.
 */
public final class CpuStatistics {
    long instructions;
    long compiledInstructions, replayedInstructions, nativeInstructions;
    long blocksBuilt, blocksCompiled;
    long lookups, linkedEntries;
    long userInstructions;

    /** Instructions executed: the basis of the MIPS figure. */
    public long instructions() { return instructions; }

    /** Of {@link #instructions}, the ones run by blocks compiled to bytecode. */
    public long compiledInstructions() { return compiledInstructions; }

    /** Of {@link #instructions}, the ones replayed from decoded blocks (the rest were decoded afresh). */
    public long replayedInstructions() { return replayedInstructions; }

    /** Instructions run as translated host code ({@link CpuOptions#nativeTier}). */
    public long nativeInstructions() { return nativeInstructions; }

    /** Of {@link #instructions}, the ones run by blocks entered in user mode (CPL 3). */
    public long userInstructions() { return userInstructions; }

    /** Times a block was decoded (first runs, and again after eviction or a code change). */
    public long blocksBuilt() { return blocksBuilt; }

    /** Block entries found by translating RIP and searching the block cache (the dispatcher's slow path). */
    public long lookups() { return lookups; }

    /** Block entries found through the previous block's direct link, without translation or search. */
    public long linkedEntries() { return linkedEntries; }

    /** Decoded blocks this CPU compiled to bytecode. */
    public long blocksCompiled() { return blocksCompiled; }
}
