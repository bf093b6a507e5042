package dev.flint.engine.emu.cpu;

/**
 * A decoded block compiled to JVM bytecode by {@link BlockCompiler}: straight-line code per instruction
 * ({@link InlineForms}, or a call into {@link FastPath}), no dispatch. Returns the number of instructions run (fewer than the block's
 * length when a conditional branch in its middle is taken; several passes when the block branches back to
 * its own start or on to another block of its region, which it does only while a whole pass of that block
 * still fits in {@code budget}); leaves RIP at the next instruction. {@code insns} are the block's
 * {@link DecodedBlock#compiledInsns}: its own and its region's other members'.
 */
interface CompiledBlock {
    int run(FastPath fast, DecodedInsn[] insns, int budget);
}
