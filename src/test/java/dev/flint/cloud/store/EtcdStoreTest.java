package dev.flint.cloud.store;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

/** The store contract against a real etcd started from Debian's etcd-server; skipped (with the reason) if it is not installed. */
class EtcdStoreTest extends StoreContract {
    @TempDir
    static Path temp;
    static EtcdProcess etcd;
    private static final AtomicInteger ROOTS = new AtomicInteger();
    private final List<CloudStore> open = new ArrayList<>();
    private String root;

    @BeforeAll
    static void startEtcd() throws Exception {
        assumeTrue(EtcdProcess.available(), "etcd is not installed (Debian package etcd-server; bin/test installs it)");
        etcd = EtcdProcess.start(temp);
    }

    @AfterAll
    static void stopEtcd() {
        if (etcd != null) etcd.close();
    }

    @Override
    CloudStore store() {
        // Each test gets its own key prefix: a fresh, empty store on the shared cluster.
        root = "/test-" + ROOTS.incrementAndGet() + "/";
        CloudStore s = EtcdStore.connect(etcd.endpoint(), root);
        open.add(s);
        return s;
    }

    @Override
    CloudStore reopen() {
        return EtcdStore.connect(etcd.endpoint(), root);
    }

    @AfterEach
    void close() {
        open.forEach(CloudStore::close);
    }
}
