package dev.flint.cloud.store;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

class SqliteStoreTest extends StoreContract {
    @TempDir
    Path temp;
    private final List<CloudStore> open = new ArrayList<>();

    @Override
    CloudStore store() {
        SqliteStore s = SqliteStore.open(temp.resolve("cloud.db"));
        open.add(s);
        return s;
    }

    @Override
    CloudStore reopen() {
        return SqliteStore.open(temp.resolve("cloud.db"));
    }

    @AfterEach
    void close() {
        open.forEach(CloudStore::close);
    }
}
