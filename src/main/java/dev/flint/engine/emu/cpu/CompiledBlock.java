package dev.flint.engine.emu.cpu;

/**
 * A decoded block compiled to JVM bytecode by {@link BlockCompiler}: straight-line code per instruction
 * ({@link InlineForms}, or a call into {@link FastPath}), no dispatch. Returns the number of instructions run (fewer than the block's
 * length when a conditional branch in its middle is taken; several passes when the block branches back to
 * its own start, which it does only while a whole further pass fits in {@code budget}); leaves RIP at the
 * next instruction.
 */
interface CompiledBlock {
    int run(FastPath fast, DecodedInsn[] insns, int budget);
}
