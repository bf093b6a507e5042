package dev.flint.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** bin/flint's JDK lookup (bin/lib/jdk.sh), against fake JDKs that answer "java -version" (and may have a release file). */
class LauncherTest {
    @TempDir Path tmp;

    private Path fakeJdk(String name, String versionLine) throws IOException {
        Path bin = Files.createDirectories(tmp.resolve("jvm").resolve(name).resolve("bin"));
        for (String tool : List.of("java", "javac")) {
            Path script = bin.resolve(tool);
            Files.writeString(script, "#!/bin/sh\necho '" + versionLine + "' >&2\n");
            Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        return bin.getParent();
    }

    private record Result(int exit, String stdout, String stderr) {}

    /** A PATH with the tools the scripts use and no java, whatever the host has installed. */
    private Path toolsWithoutJava() throws IOException {
        Path tools = Files.createDirectories(tmp.resolve("tools"));
        for (String tool : List.of("bash", "sed", "head", "ls", "sort", "dirname", "readlink", "find", "flock", "mkdir", "cat", "rm")) {
            for (String dir : List.of("/usr/bin", "/bin")) {
                Path real = Path.of(dir, tool);
                Path wrapper = tools.resolve(tool);
                if (Files.isExecutable(real) && !Files.exists(wrapper)) {
                    Files.writeString(wrapper, "#!/bin/sh\nexec " + real + " \"$@\"\n");
                    Files.setPosixFilePermissions(wrapper, PosixFilePermissions.fromString("rwxr-xr-x"));
                }
            }
        }
        return tools;
    }

    /** Runs {@code script} with bash in the repository, a PATH without any java, and the given JDK settings. */
    private Result bash(String script, String javaHome) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("bash", "-c", script);
        pb.environment().put("PATH", toolsWithoutJava().toString());
        pb.environment().put("FLINT_JDK_DIRS", tmp.resolve("jvm").toString());
        if (javaHome == null) pb.environment().remove("JAVA_HOME");
        else pb.environment().put("JAVA_HOME", javaHome);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Result(p.waitFor(), out.strip(), err.strip());
    }

    @Test
    void skipsAnOldJavaHomeForTheNewestSuitableJdk() throws Exception {
        Path old = fakeJdk("java-17", "openjdk version \"17.0.15\" 2025-04-15");
        fakeJdk("temurin-25", "openjdk version \"25.0.1\" 2025-10-21 LTS");
        fakeJdk("temurin-26-ea", "openjdk version \"26-ea\" 2026-03-17");
        Result r = bash("source bin/lib/jdk.sh && flint_find_jdk", old.toString());
        assertEquals(tmp.resolve("jvm/temurin-26-ea").toString(), r.stdout());
        assertEquals(0, r.exit());
    }

    @Test
    void aSuitableJavaHomeWins() throws Exception {
        Path home = fakeJdk("mine", "openjdk version \"25\" 2025-09-16");
        fakeJdk("zzz-26", "openjdk version \"26.0.1\" 2026-04-21");
        assertEquals(home.toString(), bash("source bin/lib/jdk.sh && flint_find_jdk", home.toString()).stdout());
    }

    @Test
    void aJdkReleaseFileIsReadWithoutStartingItsJava() throws Exception {
        // This JDK's java would claim 17; its release file says 25. The launcher must believe the file,
        // which costs no JVM start on every launch.
        Path home = fakeJdk("temurin-25", "openjdk version \"17.0.1\" 2021-10-19");
        Files.writeString(home.resolve("release"), "IMPLEMENTOR=\"Eclipse Adoptium\"\nJAVA_VERSION=\"25.0.3\"\n");
        fakeJdk("java-21", "openjdk version \"21.0.5\" 2024-10-15");
        assertEquals(home.toString(), bash("source bin/lib/jdk.sh && flint_find_jdk", null).stdout());
    }

    @Test
    void withoutASuitableJdkTheLauncherSaysSoInOneLine() throws Exception {
        fakeJdk("java-8", "java version \"1.8.0_402\"");
        fakeJdk("java-21", "openjdk version \"21.0.5\" 2024-10-15");
        Result r = bash("bin/flint run", null);
        assertEquals(1, r.exit());
        assertEquals("flint: no JDK 25 or newer found (looked at JAVA_HOME, /usr/lib/jvm/*, java on PATH); "
                + "install one, e.g. Temurin 25", r.stderr());
    }
}
