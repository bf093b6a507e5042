package dev.flint.engine.emu.irq;

import java.util.Arrays;

/** A 256-bit set of interrupt vectors: the shape of the APIC's IRR, ISR and TMR. Not thread-safe. */
final class VectorSet {
    private final long[] words = new long[4];

    void set(int vector) { words[vector >>> 6] |= 1L << vector; }

    void clear(int vector) { words[vector >>> 6] &= ~(1L << vector); }

    void assign(int vector, boolean on) {
        if (on) set(vector);
        else clear(vector);
    }

    boolean contains(int vector) { return (words[vector >>> 6] & (1L << vector)) != 0; }

    /** The highest vector in the set (the highest priority), or -1 if empty. */
    int highest() {
        for (int i = 3; i >= 0; i--) {
            if (words[i] != 0) return i * 64 + 63 - Long.numberOfLeadingZeros(words[i]);
        }
        return -1;
    }

    /** Bits {@code 32*index .. 32*index+31}: the APIC exposes each set as eight 32-bit registers. */
    int register(int index) { return (int) (words[index >>> 1] >>> ((index & 1) * 32)); }

    long[] words() { return words.clone(); }

    void load(long[] w) { System.arraycopy(w, 0, words, 0, 4); }

    void clearAll() { Arrays.fill(words, 0); }
}
