package dev.flint.cloud.store;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The default store: one SQLite file in the data folder, in WAL mode with {@code synchronous=FULL}, so a
 * commit that returned is on disk (each commit fsyncs the WAL) and a {@code kill -9} loses nothing
 * acknowledged. Versions come from one store-wide sequence (kept in the file), so a key deleted and made
 * again never reuses a version a stale writer still holds. One connection, used under this object's lock: the
 * control plane writes a few records per request, far below what serialising costs.
 */
public final class SqliteStore implements CloudStore {
    private final Path file;
    private final Connection db;

    private SqliteStore(Path file, Connection db) {
        this.file = file;
        this.db = db;
    }

    public static SqliteStore open(Path file) {
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) Files.createDirectories(parent);
            Connection db = DriverManager.getConnection("jdbc:sqlite:" + file.toAbsolutePath());
            try (Statement s = db.createStatement()) {
                s.execute("PRAGMA journal_mode=WAL");
                s.execute("PRAGMA synchronous=FULL");
                s.execute("PRAGMA busy_timeout=10000");
                s.execute("CREATE TABLE IF NOT EXISTS records (key TEXT PRIMARY KEY, value BLOB NOT NULL, version INTEGER NOT NULL)");
                s.execute("CREATE TABLE IF NOT EXISTS sequence (id INTEGER PRIMARY KEY CHECK (id = 1), last INTEGER NOT NULL)");
                s.execute("INSERT OR IGNORE INTO sequence (id, last) VALUES (1, 0)");
            }
            db.setAutoCommit(false);
            db.commit();
            return new SqliteStore(file, db);
        } catch (Exception e) {
            throw new StoreFailure("cannot open the SQLite store " + file + ": " + e.getMessage(), e);
        }
    }

    @Override
    public synchronized Optional<Entry> get(String key) {
        try (PreparedStatement q = db.prepareStatement("SELECT value, version FROM records WHERE key = ?")) {
            q.setString(1, key);
            try (ResultSet r = q.executeQuery()) {
                Optional<Entry> found = r.next() ? Optional.of(new Entry(key, r.getBytes(1), r.getLong(2))) : Optional.empty();
                db.commit();
                return found;
            }
        } catch (SQLException e) {
            throw failure("read " + key, e);
        }
    }

    @Override
    public synchronized List<Entry> list(String prefix) {
        // Range scan [prefix, prefix + U+FFFF): LIKE would treat '%' and '_' in keys as wildcards.
        try (PreparedStatement q = db.prepareStatement("SELECT key, value, version FROM records WHERE key >= ? AND key < ? ORDER BY key")) {
            q.setString(1, prefix);
            q.setString(2, prefix + '\uFFFF');
            List<Entry> out = new ArrayList<>();
            try (ResultSet r = q.executeQuery()) {
                while (r.next()) out.add(new Entry(r.getString(1), r.getBytes(2), r.getLong(3)));
            }
            db.commit();
            return out;
        } catch (SQLException e) {
            throw failure("list " + prefix, e);
        }
    }

    @Override
    public synchronized boolean commit(List<Write> writes) {
        checkDistinct(writes);
        try {
            for (Write w : writes) {
                if (w.expectedVersion() == ANY) continue;
                long current = currentVersion(w.key());
                if (current != w.expectedVersion()) {
                    db.rollback();
                    return false;
                }
            }
            long version = nextVersion();
            for (Write w : writes) apply(w, version);
            db.commit();
            return true;
        } catch (SQLException e) {
            try {
                db.rollback();
            } catch (SQLException ignored) {
                // the original failure is the one to report
            }
            throw failure("commit", e);
        }
    }

    private long currentVersion(String key) throws SQLException {
        try (PreparedStatement q = db.prepareStatement("SELECT version FROM records WHERE key = ?")) {
            q.setString(1, key);
            try (ResultSet r = q.executeQuery()) {
                return r.next() ? r.getLong(1) : ABSENT;
            }
        }
    }

    /** One new version for the whole commit: every key it writes carries it. */
    private long nextVersion() throws SQLException {
        try (Statement s = db.createStatement()) {
            s.executeUpdate("UPDATE sequence SET last = last + 1 WHERE id = 1");
            try (ResultSet r = s.executeQuery("SELECT last FROM sequence WHERE id = 1")) {
                r.next();
                return r.getLong(1);
            }
        }
    }

    private void apply(Write w, long version) throws SQLException {
        if (w.value() == null) {
            try (PreparedStatement d = db.prepareStatement("DELETE FROM records WHERE key = ?")) {
                d.setString(1, w.key());
                d.executeUpdate();
            }
            return;
        }
        try (PreparedStatement u = db.prepareStatement(
                "INSERT INTO records (key, value, version) VALUES (?, ?, ?) "
                        + "ON CONFLICT(key) DO UPDATE SET value = excluded.value, version = excluded.version")) {
            u.setString(1, w.key());
            u.setBytes(2, w.value());
            u.setLong(3, version);
            u.executeUpdate();
        }
    }

    static void checkDistinct(List<Write> writes) {
        Set<String> keys = new HashSet<>();
        for (Write w : writes) {
            if (!keys.add(w.key())) throw new IllegalArgumentException("key " + w.key() + " written twice in one commit");
        }
    }

    private StoreFailure failure(String what, SQLException e) {
        return new StoreFailure("SQLite store " + file + ": cannot " + what + ": " + e.getMessage(), e);
    }

    @Override
    public String describe() { return "sqlite:" + file; }

    @Override
    public synchronized void close() {
        try {
            db.close();
        } catch (SQLException ignored) {
            // closing: nothing left to protect
        }
    }
}
