package dev.flint.cloud;

import dev.flint.cloud.compute.CloudImage;
import dev.flint.cloud.compute.InstanceRuntime;
import dev.flint.cloud.compute.VmmRuntime;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Optional;

/**
 * THE one place where {@code flint cloud serve} gets its machines: the real instance runtime
 * ({@link VmmRuntime}: one Flint VMM per instance, bridge/TAP/NAT, the metadata server) and the default
 * {@code debian-12} image ({@link CloudImage}). Tests never come here: they hand {@link CloudDaemon} a fake.
 */
public final class HostRuntime {
    private HostRuntime() {}

    public static CloudDaemon.RuntimeFactory factory() {
        return (listener, metadata, runtimeDir) -> {
            try {
                return new VmmRuntime(listener, metadata, runtimeDir);
            } catch (InstanceRuntime.RuntimeFailure e) {
                throw new IOException(e.getMessage(), e);
            }
        };
    }

    /** Builds (once, with progress on {@code progress}) the default image's file in the guest cache. */
    public static Optional<Path> defaultImage(PrintStream progress) {
        return Optional.of(CloudImage.inDefaultCache().ensureDefaultImage(progress));
    }
}
