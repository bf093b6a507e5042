package dev.flint.cloud;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** A daemon over the fake runtime in its own JVM, so a test can kill -9 it: writes its endpoint to DATA/endpoint, then serves. */
public final class FakeDaemonMain {
    private FakeDaemonMain() {}

    public static void main(String[] args) throws Exception {
        Path data = Path.of(args[0]);
        CloudHarness cloud = CloudHarness.start(data, 64 * 1024, false, List.of());
        Path tmp = data.resolve("endpoint.tmp");
        Files.writeString(tmp, cloud.daemon.endpoint());
        Files.move(tmp, data.resolve("endpoint"), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        Thread.sleep(Long.MAX_VALUE);
    }
}
