package dev.flint.machine.state;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Collects a machine's state as named sections ("cpu.0", "serial", "pci.3"), each a flat sequence of
 * big-endian values that only its component knows how to read back. Components write in a fixed order
 * and read in the same order; the section names let the loader say exactly which part is missing.
 */
public final class StateWriter {
    private final Map<String, byte[]> sections = new LinkedHashMap<>();

    /** Opens section {@code name}; its content is complete when {@link Section#close} runs. */
    public Section section(String name) {
        if (sections.containsKey(name)) throw new IllegalStateException("state section written twice: " + name);
        return new Section(name);
    }

    Map<String, byte[]> sections() { return sections; }

    /** One component's values. */
    public final class Section implements AutoCloseable {
        private final String name;
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private final DataOutputStream out = new DataOutputStream(bytes);

        private Section(String name) { this.name = name; }

        public Section putInt(int v) { return io(() -> out.writeInt(v)); }
        public Section putLong(long v) { return io(() -> out.writeLong(v)); }
        public Section putBoolean(boolean v) { return io(() -> out.writeBoolean(v)); }
        public Section putString(String v) { return io(() -> out.writeUTF(v)); }

        public Section putInts(int[] v) {
            putInt(v.length);
            for (int x : v) putInt(x);
            return this;
        }

        public Section putLongs(long[] v) {
            putInt(v.length);
            for (long x : v) putLong(x);
            return this;
        }

        public Section putBytes(byte[] v) {
            putInt(v.length);
            return io(() -> out.write(v));
        }

        private Section io(IoStep step) {
            try {
                step.run();
            } catch (IOException e) {
                throw new UncheckedIOException(e); // a byte array never fails
            }
            return this;
        }

        @Override
        public void close() { sections.put(name, bytes.toByteArray()); }
    }

    private interface IoStep {
        void run() throws IOException;
    }
}
