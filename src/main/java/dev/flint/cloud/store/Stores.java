package dev.flint.cloud.store;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;

/**
 * Opens the store a {@code --store} URI names: {@code sqlite:PATH} (the default, {@code DATA/cloud.db}) or
 * {@code etcd://HOST:PORT[/PREFIX]} (keys under {@code /PREFIX/}, default {@code /flint/cloud/}).
 */
public final class Stores {
    public static final String DEFAULT_SQLITE_FILE = "cloud.db";
    public static final String DEFAULT_ETCD_ROOT = "/flint/cloud/";

    private Stores() {}

    public static String defaultUri(Path dataDir) {
        return "sqlite:" + dataDir.resolve(DEFAULT_SQLITE_FILE);
    }

    /** Opens it; a URI Flint cannot use is an {@link IllegalArgumentException} with one line for the user. */
    public static CloudStore open(String uri) {
        if (uri.startsWith("sqlite:")) {
            String path = uri.substring("sqlite:".length());
            if (path.isBlank()) throw new IllegalArgumentException("--store sqlite:PATH needs a file path");
            return SqliteStore.open(Path.of(path));
        }
        if (uri.startsWith("etcd://")) {
            URI parsed;
            try {
                parsed = new URI(uri);
            } catch (URISyntaxException e) {
                throw new IllegalArgumentException("--store " + uri + " is not a valid URI: " + e.getReason());
            }
            if (parsed.getHost() == null || parsed.getPort() < 0) {
                throw new IllegalArgumentException("--store etcd://HOST:PORT needs a host and a port, got " + uri);
            }
            String path = parsed.getPath();
            String root = path == null || path.isEmpty() || path.equals("/") ? DEFAULT_ETCD_ROOT : (path.endsWith("/") ? path : path + "/");
            return EtcdStore.connect("http://" + parsed.getHost() + ":" + parsed.getPort(), root);
        }
        throw new IllegalArgumentException("--store must be sqlite:PATH or etcd://HOST:PORT, got " + uri);
    }
}
