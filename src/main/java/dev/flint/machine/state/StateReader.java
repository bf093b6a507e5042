package dev.flint.machine.state;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;

/**
 * The sections of a state file that passed its checks. Reading past a section's end, a length that does
 * not fit, or a missing section is a {@link SnapshotException} naming the section: a file written by a
 * different layout of the same format version must fail with a line, never restore garbage.
 */
public final class StateReader {
    private final Map<String, byte[]> sections;

    StateReader(Map<String, byte[]> sections) { this.sections = sections; }

    /** The sections of {@code written} as they would be read back from its file (for in-memory round trips). */
    public static StateReader of(StateWriter written) { return new StateReader(new java.util.LinkedHashMap<>(written.sections())); }

    public boolean has(String name) { return sections.containsKey(name); }

    public Set<String> names() { return sections.keySet(); }

    public Section section(String name) {
        byte[] b = sections.get(name);
        if (b == null) throw new SnapshotException("the snapshot holds no state for " + name);
        return new Section(name, ByteBuffer.wrap(b));
    }

    /** One component's values, read in the order they were written. */
    public static final class Section {
        private final String name;
        private final ByteBuffer in;

        private Section(String name, ByteBuffer in) {
            this.name = name;
            this.in = in;
        }

        public int getInt() {
            try {
                return in.getInt();
            } catch (BufferUnderflowException e) {
                throw short_();
            }
        }

        public long getLong() {
            try {
                return in.getLong();
            } catch (BufferUnderflowException e) {
                throw short_();
            }
        }

        public boolean getBoolean() {
            try {
                return in.get() != 0;
            } catch (BufferUnderflowException e) {
                throw short_();
            }
        }

        public String getString() {
            int length = Short.toUnsignedInt(getShort());
            return new String(take(length), StandardCharsets.UTF_8);
        }

        private short getShort() {
            try {
                return in.getShort();
            } catch (BufferUnderflowException e) {
                throw short_();
            }
        }

        /** An int array written by putInts, which must have exactly {@code expected} elements. */
        public int[] getInts(int expected) {
            int n = length(expected, 4);
            int[] v = new int[n];
            for (int i = 0; i < n; i++) v[i] = getInt();
            return v;
        }

        public long[] getLongs(int expected) {
            int n = length(expected, 8);
            long[] v = new long[n];
            for (int i = 0; i < n; i++) v[i] = getLong();
            return v;
        }

        /** Copies an int array into {@code into} (its length is the one expected). */
        public void readInts(int[] into) { System.arraycopy(getInts(into.length), 0, into, 0, into.length); }

        public void readLongs(long[] into) { System.arraycopy(getLongs(into.length), 0, into, 0, into.length); }

        public byte[] getBytes(int expected) { return take(length(expected, 1)); }

        private int length(int expected, int unit) {
            int n = getInt();
            if (n != expected) {
                throw new SnapshotException("state of " + name + " does not fit this machine: " + n + " elements where "
                        + expected + " were expected");
            }
            if ((long) n * unit > in.remaining()) throw short_();
            return n;
        }

        private byte[] take(int n) {
            if (n > in.remaining()) throw short_();
            byte[] b = new byte[n];
            in.get(b);
            return b;
        }

        /** Call after reading: leftover bytes mean the writer and reader disagree on the layout. */
        public void end() {
            if (in.hasRemaining()) {
                throw new SnapshotException("state of " + name + " has " + in.remaining() + " bytes more than this Flint reads");
            }
        }

        private SnapshotException short_() {
            return new SnapshotException("state of " + name + " ends early");
        }
    }
}
