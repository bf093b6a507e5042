package dev.flint.cloud.store;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Where the control plane keeps its records: a small versioned key-value store. Every entry has a version
 * that changes on every write (SQLite: a counter per row; etcd: the key's mod revision), and every write
 * is a compare-and-set on it, so two writers never overwrite each other unseen. {@link #commit} applies
 * several writes atomically, all or none: a state transition and its side records land together, or not
 * at all. A commit that returned {@code true} is durable (it survives a {@code kill -9} of the daemon).
 */
public interface CloudStore extends AutoCloseable {

    /** A stored value and the version it was read at. */
    record Entry(String key, byte[] value, long version) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Entry e && e.key.equals(key) && e.version == version && Arrays.equals(e.value, value);
        }

        @Override
        public int hashCode() { return key.hashCode() * 31 + Long.hashCode(version); }

        @Override
        public String toString() { return "Entry[" + key + " v" + version + ", " + value.length + " bytes]"; }
    }

    /** Expectation on a key before a write: absent, or exactly this version. */
    long ABSENT = 0;
    /** No expectation (an unconditional write). */
    long ANY = -1;

    /** One write in a {@link #commit}: {@code value == null} deletes the key. */
    record Write(String key, long expectedVersion, byte[] value) {
        public static Write create(String key, byte[] value) { return new Write(key, ABSENT, value); }
        public static Write update(Entry entry, byte[] value) { return new Write(entry.key(), entry.version(), value); }
        public static Write delete(Entry entry) { return new Write(entry.key(), entry.version(), null); }
    }

    Optional<Entry> get(String key);

    /** All entries whose key starts with {@code prefix}, in key order. */
    List<Entry> list(String prefix);

    /**
     * Applies all writes atomically if every expectation holds, and returns {@code true}; otherwise changes
     * nothing and returns {@code false}. Keys within one commit must be distinct.
     */
    boolean commit(List<Write> writes);

    default boolean putIfAbsent(String key, byte[] value) {
        return commit(List.of(Write.create(key, value)));
    }

    default boolean compareAndSet(Entry current, byte[] value) {
        return commit(List.of(Write.update(current, value)));
    }

    default boolean delete(Entry current) {
        return commit(List.of(Write.delete(current)));
    }

    /** Where the data lives, for the log. */
    String describe();

    @Override
    void close();

    /** The store cannot be reached or failed underneath (I/O, SQL, network): not a lost race. */
    final class StoreFailure extends RuntimeException {
        public StoreFailure(String message, Throwable cause) { super(message, cause); }
    }
}
