package dev.flint.cloud;

import dev.flint.cloud.compute.CloudImage;
import dev.flint.cloud.compute.InstanceRuntime;
import dev.flint.cloud.compute.VmmRuntime;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;

/**
 * The one place where {@code flint cloud serve} gets its machines: the real instance runtime
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
                throw new IOException("the instance runtime cannot start: " + e.getMessage(), e);
            }
        };
    }

    /** Builds the default image's file once (with progress on {@code progress}) and returns it. */
    public static Path defaultImage(PrintStream progress) {
        return CloudImage.inDefaultCache().ensureDefaultImage(progress);
    }
}
