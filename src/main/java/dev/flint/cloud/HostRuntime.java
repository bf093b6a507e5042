package dev.flint.cloud;

import dev.flint.cloud.compute.InstanceRuntime;
import dev.flint.cloud.compute.MetadataSource;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * THE one place where {@code flint cloud serve} gets its machines: the real instance runtime
 * ({@code dev.flint.cloud.compute.VmmRuntime}: one Flint VMM per instance, bridge/TAP/NAT, the metadata
 * server) and the default {@code debian-12} image ({@code dev.flint.cloud.compute.CloudImage}).
 *
 * <p>Both are built on a separate branch; until they are merged they are looked up by name so this branch
 * compiles and {@code serve} says clearly what is missing. At merge, replace the bodies with direct calls
 * ({@code new VmmRuntime(listener, metadata, runtimeDir)}, {@code new CloudImage(...).ensureDefaultImage(progress)})
 * and adapt the arguments to their constructors. Tests never come here: they hand {@link CloudDaemon} a fake.
 */
public final class HostRuntime {
    static final String RUNTIME_CLASS = "dev.flint.cloud.compute.VmmRuntime";

    private HostRuntime() {}

    public static CloudDaemon.RuntimeFactory factory() {
        return (listener, metadata, runtimeDir) -> {
            try {
                Class<?> type = Class.forName(RUNTIME_CLASS);
                return (InstanceRuntime) type.getConstructor(InstanceRuntime.Listener.class, MetadataSource.class, Path.class)
                        .newInstance(listener, metadata, runtimeDir);
            } catch (ClassNotFoundException | NoSuchMethodException e) {
                throw new IOException("this build of Flint has no instance runtime (" + RUNTIME_CLASS + "); 'flint cloud serve' cannot run instances");
            } catch (InvocationTargetException e) {
                Throwable cause = e.getCause();
                if (cause instanceof IOException io) throw io;
                if (cause instanceof RuntimeException re) throw re;
                throw new IOException("the instance runtime cannot start: " + cause.getMessage(), cause);
            } catch (ReflectiveOperationException e) {
                throw new IOException("cannot start the instance runtime: " + e, e);
            }
        };
    }

    static final String IMAGE_CLASS = "dev.flint.cloud.compute.CloudImage";

    /**
     * Builds (once, with progress on {@code progress}) the default image's file, if this build has the image
     * builder ({@code CloudImage.inDefaultCache().ensureDefaultImage(progress)}); empty if it has none.
     */
    public static Optional<Path> defaultImage(PrintStream progress) throws IOException {
        Object builder;
        try {
            builder = Class.forName(IMAGE_CLASS).getMethod("inDefaultCache").invoke(null);
        } catch (ClassNotFoundException | NoSuchMethodException e) {
            return Optional.empty();
        } catch (ReflectiveOperationException e) {
            throw new IOException("cannot open the image builder: " + e, e);
        }
        try {
            return Optional.of((Path) builder.getClass().getMethod("ensureDefaultImage", PrintStream.class).invoke(builder, progress));
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException re) throw re;
            throw new IOException("cannot build the default image: " + cause.getMessage(), cause);
        } catch (ReflectiveOperationException e) {
            throw new IOException("cannot build the default image: " + e, e);
        }
    }
}
