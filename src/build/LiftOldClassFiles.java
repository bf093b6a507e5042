import java.io.IOException;
import java.io.OutputStream;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassHierarchyResolver;
import java.lang.classfile.ClassModel;
import java.lang.classfile.ClassTransform;
import java.lang.classfile.CodeTransform;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Collections;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/**
 * Build step (run by Maven at package time, as a single-file program): rewrites the class files of the
 * runtime libraries in target/lib that predate Java 6's class format (major version below 50) to version
 * 52, with the stack maps the newer format requires.
 *
 * <p>Why: the JDK's ahead-of-time cache that bin/flint makes (JEP 483) cannot hold classes of the old format
 * once they were linked, because they were checked by the old verifier, so every start loaded and verified
 * them from their jar again. Picocli ships Java 5 class files (228 of them); it is the only such library
 * here. Measured with bench/api.sh on this 2-core host: `flint --help` went from ~330 to ~250 ms of CPU and
 * `flint vmm` to its socket from ~790 to ~520 ms of CPU. The code itself is unchanged: each method is
 * rebuilt as it was, only the version and the stack maps are new, and the JVM verifies the result.
 *
 * <p>Idempotent: a jar without old class files is left alone. A jar that cannot be rewritten (signed, or a
 * class whose hierarchy cannot be resolved) is left as it was with one line on stderr; it only costs
 * start-up time.
 */
public final class LiftOldClassFiles {
    private static final int OLDEST_VERIFIABLE = 50, TARGET = 52;

    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args[0]);
        try (DirectoryStream<Path> jars = Files.newDirectoryStream(dir, "*.jar")) {
            for (Path jar : jars) {
                try {
                    int lifted = lift(jar);
                    if (lifted > 0) System.out.println("lifted " + lifted + " class files of " + jar.getFileName() + " to version " + TARGET);
                } catch (IOException | RuntimeException e) {
                    System.err.println("left " + jar.getFileName() + " as it was: " + e);
                }
            }
        }
    }

    private static int lift(Path jar) throws IOException {
        try (ZipFile zip = new ZipFile(jar.toFile())) {
            boolean old = false, signed = false;
            for (ZipEntry e : Collections.list(zip.entries())) {
                String name = e.getName();
                if (name.startsWith("META-INF/") && (name.endsWith(".SF") || name.endsWith(".RSA") || name.endsWith(".DSA"))) signed = true;
                if (isClass(name)) {
                    byte[] head = zip.getInputStream(e).readNBytes(8);
                    if (head.length == 8 && ((head[6] & 0xff) << 8 | (head[7] & 0xff)) < OLDEST_VERIFIABLE) old = true;
                }
            }
            if (!old) return 0;
            if (signed) throw new IOException("signed");
        }
        Path tmp = jar.resolveSibling(jar.getFileName() + ".lifting");
        int lifted = 0;
        try (URLClassLoader own = new URLClassLoader(new URL[] {jar.toUri().toURL()}, null);
             ZipFile zip = new ZipFile(jar.toFile());
             OutputStream file = Files.newOutputStream(tmp);
             ZipOutputStream out = new ZipOutputStream(file)) {
            // Stack maps need the common super class of two types: the JDK's own, then the jar's.
            ClassFile cf = ClassFile.of(ClassFile.ClassHierarchyResolverOption.of(ClassHierarchyResolver.defaultResolver()
                    .orElse(ClassHierarchyResolver.ofResourceParsing(own))));
            for (ZipEntry e : Collections.list(zip.entries())) {
                byte[] bytes = zip.getInputStream(e).readAllBytes();
                if (isClass(e.getName())) {
                    ClassModel model = cf.parse(bytes);
                    if (model.majorVersion() < OLDEST_VERIFIABLE) {
                        bytes = cf.transformClass(model, ClassTransform.transformingMethodBodies(CodeTransform.ACCEPT_ALL)
                                .andThen(ClassTransform.endHandler(b -> b.withVersion(TARGET, 0))));
                        lifted++;
                    }
                }
                ZipEntry copy = new ZipEntry(e.getName());
                copy.setTime(e.getTime());
                out.putNextEntry(copy);
                out.write(bytes);
                out.closeEntry();
            }
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        Files.move(tmp, jar, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return lifted;
    }

    private static boolean isClass(String name) {
        return name.endsWith(".class") && !name.startsWith("META-INF/");
    }
}
