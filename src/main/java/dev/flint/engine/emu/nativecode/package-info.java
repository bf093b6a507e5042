/**
 * The first parts of a native-code tier for the {@code emu} engine (issue 15; docs/emu-native.md): a code cache
 * of x86-64 host code ({@link dev.flint.engine.emu.nativecode.CodeCache}, a memfd mapped read+write and
 * read+execute, bump-allocated, flushed whole) and an x86-64 emitter
 * ({@link dev.flint.engine.emu.nativecode.X64Emitter}). Nothing in the engine uses them yet: the block
 * translator from {@code DecodedInsn}s comes next.
 */
package dev.flint.engine.emu.nativecode;
