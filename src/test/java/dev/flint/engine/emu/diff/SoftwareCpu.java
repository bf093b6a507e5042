package dev.flint.engine.emu.diff;

/**
 * The CPU under test: runs {@code c.code()} placed at {@link Layout#sequenceStart()} from
 * {@code c.initial()} (data page at {@link Layout#data()}, stack window at {@link Layout#stackWindow()})
 * until RIP reaches the end of the sequence, and returns the state it leaves.
 */
interface SoftwareCpu {
    CpuState run(Layout layout, TestCase c) throws Exception;
}
