package dev.flint.cloud;

import java.nio.file.Path;
import java.util.Map;

/**
 * Where {@code flint cloud} keeps its state: {@code $FLINT_CLOUD_DATA}, else {@code $XDG_DATA_HOME/flint/cloud},
 * else {@code ~/.local/share/flint/cloud}. Inside: {@code credentials} (the access key, 0600), {@code cloud.db}
 * (the SQLite store), {@code images/} (registered images), {@code volumes/} (instances' root volumes) and
 * {@code runtime/} (the instance runtime's own files: VMM sockets, consoles).
 */
public final class CloudPaths {
    private CloudPaths() {}

    public static Path defaultDataDir(Map<String, String> env) {
        String explicit = env.get("FLINT_CLOUD_DATA");
        if (explicit != null && !explicit.isBlank()) return Path.of(explicit);
        String xdg = env.get("XDG_DATA_HOME");
        if (xdg != null && !xdg.isBlank()) return Path.of(xdg, "flint", "cloud");
        return Path.of(System.getProperty("user.home"), ".local", "share", "flint", "cloud");
    }

    public static Path images(Path dataDir) { return dataDir.resolve("images"); }

    public static Path volumes(Path dataDir) { return dataDir.resolve("volumes"); }

    public static Path runtime(Path dataDir) { return dataDir.resolve("runtime"); }
}
