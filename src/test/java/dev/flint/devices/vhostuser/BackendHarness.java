package dev.flint.devices.vhostuser;

import dev.flint.devices.virtio.block.DriveConfig;
import dev.flint.sys.UnixSocket;

import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Flint's block back end on a socket in the test's JVM, one connection; {@link #ended} is what {@link BackendConnection#run} returned. */
final class BackendHarness implements AutoCloseable {
    final Path socket;
    final BlockBackend backend;
    private final UnixSocket listener;
    private final Thread thread;
    private volatile BackendConnection connection;
    final CompletableFuture<String> ended = new CompletableFuture<>();

    BackendHarness(Path dir, Path image, boolean readOnly) {
        this.socket = dir.resolve("backend.sock");
        this.backend = BlockBackend.open(new DriveConfig(image, readOnly));
        this.listener = UnixSocket.listen(socket);
        this.thread = Thread.ofPlatform().name("vhost-user-test-backend").start(() -> {
            try (BackendConnection c = new BackendConnection(listener.accept(), backend)) {
                connection = c;
                ended.complete(String.valueOf(c.run()));
            } catch (RuntimeException e) {
                ended.complete("crashed: " + e);
            }
        });
    }

    /** What the connection ended with ("null" for a clean end), waiting up to two minutes. */
    String awaitEnd() throws Exception {
        return ended.get(2, TimeUnit.MINUTES);
    }

    /** Stops serving (as if the back end died): the connection's socket closes. */
    void kill() throws Exception {
        while (connection == null && thread.isAlive()) Thread.onSpinWait();
        if (connection != null) connection.stop();
        thread.join(60_000);
    }

    boolean threadEnded() { return !thread.isAlive(); }

    @Override
    public void close() throws Exception {
        kill();
        listener.close();
        backend.close();
    }
}
