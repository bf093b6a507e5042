import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;

/**
 * Build step (run by Maven at package time, after the jar, as a single-file program): writes
 * target/flint-vmm.jar, the same classes as target/flint.jar but with a Class-Path that names only the
 * libraries {@code flint vmm} uses. bin/flint runs {@code flint vmm} from it, and the top-level usage
 * ({@code flint --help}), which needs only picocli of them (CliUsageTest).
 *
 * <p>Why: flint.jar names all ~90 runtime libraries (the AWS SDK model, Netty, gRPC, SQLite... for
 * {@code flint cloud}). Each lookup of a service that is not there (the JDK's logger finder, SLF4J's
 * provider, the selector provider, time-zone rules: all on the way to the API socket) opens every jar on
 * the class path and keeps its central directory in memory. Together with the VMM's own start-up cache,
 * an A/B run on a loaded 2-core host measured 502 → 419 ms to the socket and 77 → 73 MiB idle RSS
 * (docs/startup.md).
 *
 * <p>The list below is checked by VmmClassPathTest: the packages {@code flint vmm} runs (api, vmm, engine,
 * devices, arch, machine, sys, guest) may only use these libraries. A library of the list that is missing
 * from flint.jar's Class-Path fails the build.
 */
public final class VmmJar {
    /** File name prefixes (under lib/) of the libraries flint vmm needs, with what needs them. */
    static final List<String> VMM_LIBRARIES = List.of(
            "picocli-", // the command line
            "jackson-databind-2.", "jackson-core-2.", "jackson-annotations-2.", // the API's JSON, MMDS
            "jetty-server-", "jetty-http-", "jetty-io-", "jetty-util-", "jetty-unixdomain-server-", // the API server
            "slf4j-api-", "slf4j-jdk14-", // Jetty's logging, sent to java.util.logging
            "xz-"); // the guest kernel's decompression (arch, guest)

    public static void main(String[] args) throws IOException {
        Path source = Path.of(args[0]), target = Path.of(args[1]);
        Path partial = target.resolveSibling(target.getFileName() + ".tmp");
        try (JarFile in = new JarFile(source.toFile())) {
            Manifest manifest = new Manifest(in.getManifest());
            Attributes main = manifest.getMainAttributes();
            List<String> kept = new ArrayList<>();
            String listed = main.getValue(Attributes.Name.CLASS_PATH);
            for (String entry : listed == null ? new String[0] : listed.trim().split("\\s+")) {
                if (VMM_LIBRARIES.stream().anyMatch(prefix -> entry.startsWith("lib/" + prefix))) kept.add(entry);
            }
            for (String prefix : VMM_LIBRARIES) {
                if (kept.stream().noneMatch(entry -> entry.startsWith("lib/" + prefix))) {
                    throw new IOException(source + " names no library lib/" + prefix + "* that flint vmm needs");
                }
            }
            main.put(Attributes.Name.CLASS_PATH, String.join(" ", kept));
            try (OutputStream file = Files.newOutputStream(partial); JarOutputStream out = new JarOutputStream(file, manifest)) {
                for (Enumeration<JarEntry> entries = in.entries(); entries.hasMoreElements(); ) {
                    JarEntry entry = entries.nextElement();
                    // JarOutputStream wrote the manifest (and its directory) first.
                    if (entry.getName().equals(JarFile.MANIFEST_NAME) || entry.getName().equals("META-INF/")) continue;
                    JarEntry copy = new JarEntry(entry.getName());
                    copy.setTime(entry.getTime());
                    out.putNextEntry(copy);
                    try (var data = in.getInputStream(entry)) {
                        data.transferTo(out);
                    }
                    out.closeEntry();
                }
            }
            Files.move(partial, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            System.out.println("wrote " + target.getFileName() + " with " + kept.size() + " of flint.jar's libraries");
        } finally {
            Files.deleteIfExists(partial);
        }
    }
}
