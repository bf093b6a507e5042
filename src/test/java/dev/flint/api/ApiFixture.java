package dev.flint.api;

import java.nio.file.Files;
import java.nio.file.Path;

/** A served API on a fresh socket with a fake VMM behind it, plus a client; one per test. */
final class ApiFixture implements AutoCloseable {
    final Path dir;
    final Path socket;
    final Path kernel;
    final FakeBackend backend = new FakeBackend();
    final VmmController vmm;
    final ApiServer server;
    final UnixSocketClient client;

    ApiFixture(Path dir) throws Exception {
        this(dir, ApiServer.DEFAULT_MAX_PAYLOAD);
    }

    ApiFixture(Path dir, int maxPayload) throws Exception {
        this(dir, maxPayload, maxPayload);
    }

    ApiFixture(Path dir, int maxPayload, int mmdsSizeLimit) throws Exception {
        this.dir = dir;
        this.socket = dir.resolve("api.sock");
        this.kernel = Files.write(dir.resolve("vmlinuz"), new byte[4096]);
        this.vmm = new VmmController("test-vm", backend, false, mmdsSizeLimit);
        this.server = ApiServer.start(socket, vmm, maxPayload);
        this.client = new UnixSocketClient(socket);
    }

    @Override
    public void close() throws Exception {
        client.close();
        server.close();
        vmm.close();
    }
}
