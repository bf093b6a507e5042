package dev.flint.cloud.console;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * The built pages (the front-end build's output, packaged in the jar under {@link #ROOT}) read once from
 * the classpath and kept in memory: a few hundred KiB.
 */
final class ConsoleAssets {

    static final String ROOT = "dev/flint/cloud/console/web/";
    /** Only names the build makes: no dot-dot, no directories beyond assets/. */
    private static final Pattern ASSET_NAME = Pattern.compile("[A-Za-z0-9_.-]{1,120}");
    private static final Map<String, String> TYPES = Map.of(
            "js", "text/javascript; charset=utf-8",
            "css", "text/css; charset=utf-8",
            "svg", "image/svg+xml",
            "png", "image/png",
            "ico", "image/x-icon",
            "woff2", "font/woff2",
            "html", "text/html; charset=utf-8");

    record Asset(String contentType, byte[] bytes) {}

    private final Map<String, Optional<Asset>> cache = new ConcurrentHashMap<>();

    /** The application's page; empty if the front end was not built into this jar. */
    Optional<String> indexHtml() {
        return load("index.html").map(a -> new String(a.bytes(), java.nio.charset.StandardCharsets.UTF_8));
    }

    /** A file under assets/ by its bare name; empty for anything else. */
    Optional<Asset> asset(String name) {
        if (!ASSET_NAME.matcher(name).matches() || name.startsWith(".")) {
            return Optional.empty();
        }
        return load("assets/" + name);
    }

    private Optional<Asset> load(String relative) {
        return cache.computeIfAbsent(relative, r -> {
            try (InputStream in = ConsoleAssets.class.getClassLoader().getResourceAsStream(ROOT + r)) {
                if (in == null) {
                    return Optional.empty();
                }
                String extension = r.substring(r.lastIndexOf('.') + 1);
                return Optional.of(new Asset(TYPES.getOrDefault(extension, "application/octet-stream"), in.readAllBytes()));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }
}
