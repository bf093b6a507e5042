package dev.flint.cloud.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flint.cloud.store.CloudStore.Entry;
import dev.flint.cloud.store.CloudStore.Write;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** What every {@link CloudStore} promises; each implementation's test runs these against a real instance of it. */
abstract class StoreContract {
    /** A fresh, empty store. */
    abstract CloudStore store();

    /** A second handle on the same data (another connection, as after a restart). */
    abstract CloudStore reopen();

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void createReadUpdateDelete() {
        CloudStore s = store();
        assertTrue(s.get("a/1").isEmpty());
        assertTrue(s.putIfAbsent("a/1", b("one")));
        assertFalse(s.putIfAbsent("a/1", b("again")), "create refuses an existing key");
        Entry first = s.get("a/1").orElseThrow();
        assertArrayEquals(b("one"), first.value());
        assertTrue(first.version() > 0);
        assertTrue(s.compareAndSet(first, b("two")));
        Entry second = s.get("a/1").orElseThrow();
        assertNotEquals(first.version(), second.version(), "every write changes the version");
        assertFalse(s.compareAndSet(first, b("stale")), "a stale version is refused");
        assertArrayEquals(b("two"), s.get("a/1").orElseThrow().value());
        assertFalse(s.delete(first));
        assertTrue(s.delete(second));
        assertTrue(s.get("a/1").isEmpty());
        // Deleted and made again: the old version must not match the new key (no ABA).
        assertTrue(s.putIfAbsent("a/1", b("three")));
        assertFalse(s.compareAndSet(first, b("aba")));
        assertFalse(s.compareAndSet(second, b("aba")));
    }

    @Test
    void listByPrefixInKeyOrder() {
        CloudStore s = store();
        for (String k : List.of("inst/b", "inst/a", "inst%/x", "inst_/y", "image/a", "insta")) assertTrue(s.putIfAbsent(k, b(k)));
        assertEquals(List.of("inst/a", "inst/b"), s.list("inst/").stream().map(Entry::key).toList());
        assertEquals(List.of("inst%/x"), s.list("inst%").stream().map(Entry::key).toList(), "% is not a wildcard");
        assertEquals(List.of("inst_/y"), s.list("inst_").stream().map(Entry::key).toList(), "_ is not a wildcard");
        assertEquals(6, s.list("").size());
        assertTrue(s.list("zzz").isEmpty());
    }

    @Test
    void commitIsAllOrNothing() {
        CloudStore s = store();
        assertTrue(s.putIfAbsent("t/existing", b("x")));
        Entry existing = s.get("t/existing").orElseThrow();
        // The second expectation fails (the key exists): the first write must not land either.
        assertFalse(s.commit(List.of(Write.create("t/new", b("n")), Write.create("t/existing", b("y")))));
        assertTrue(s.get("t/new").isEmpty());
        assertArrayEquals(b("x"), s.get("t/existing").orElseThrow().value());
        assertTrue(s.commit(List.of(Write.create("t/new", b("n")), Write.update(existing, b("y")), new Write("t/any", CloudStore.ANY, b("z")))));
        assertArrayEquals(b("n"), s.get("t/new").orElseThrow().value());
        assertArrayEquals(b("y"), s.get("t/existing").orElseThrow().value());
        assertTrue(s.commit(List.of(Write.delete(s.get("t/new").orElseThrow()), Write.delete(s.get("t/any").orElseThrow()))));
        assertEquals(List.of("t/existing"), s.list("t/").stream().map(Entry::key).toList());
        assertThrows(IllegalArgumentException.class, () -> s.commit(List.of(Write.create("t/d", b("1")), Write.create("t/d", b("2")))));
    }

    @Test
    void concurrentCompareAndSetLosesNoUpdate() throws Exception {
        CloudStore s = store();
        assertTrue(s.putIfAbsent("counter", b("0")));
        int threads = 4;
        int increments = 25;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                done.add(pool.submit(() -> {
                    for (int i = 0; i < increments; i++) {
                        while (true) {
                            Entry e = s.get("counter").orElseThrow();
                            int n = Integer.parseInt(new String(e.value(), StandardCharsets.UTF_8));
                            if (s.compareAndSet(e, b(String.valueOf(n + 1)))) break;
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) f.get();
        } finally {
            pool.shutdownNow();
        }
        assertEquals(String.valueOf(threads * increments), new String(s.get("counter").orElseThrow().value(), StandardCharsets.UTF_8));
    }

    @Test
    void anotherHandleSeesCommittedData() {
        CloudStore s = store();
        assertTrue(s.putIfAbsent("durable/1", b("kept")));
        try (CloudStore other = reopen()) {
            Entry seen = other.get("durable/1").orElseThrow();
            assertArrayEquals(b("kept"), seen.value());
            assertEquals(s.get("durable/1").orElseThrow().version(), seen.version());
        }
    }
}
