package dev.flint.cloud.store;

import java.nio.file.Path;

/** Lets tests outside this package start a real etcd (see {@link EtcdProcess}). */
public final class EtcdForTests implements AutoCloseable {
    private final EtcdProcess etcd;

    private EtcdForTests(EtcdProcess etcd) {
        this.etcd = etcd;
    }

    public static boolean available() {
        return EtcdProcess.available();
    }

    public static EtcdForTests start(Path dir) throws Exception {
        return new EtcdForTests(EtcdProcess.start(dir));
    }

    public String storeUri() {
        return "etcd://127.0.0.1:" + etcd.clientPort;
    }

    @Override
    public void close() {
        etcd.close();
    }
}
