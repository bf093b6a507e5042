package dev.flint.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * bin/flint runs {@code flint --help} (and {@code flint} alone) from flint-vmm.jar, whose class path holds only
 * the libraries of src/build/VmmJar.java: usage builds every command's model, so a command class whose fields or
 * methods named a type of another library (the AWS SDK, Netty...) would fail there with NoClassDefFoundError.
 * Here Flint's classes run with just those libraries, in their own JVM, as bin/flint runs them.
 */
class CliUsageTest {
    @TempDir Path tmp;

    @Test
    void usageNeedsOnlyTheLibrariesOfTheVmmClassPath() throws Exception {
        List<String> prefixes = vmmLibraryPrefixes();
        List<String> classPath = new ArrayList<>();
        List<String> left = new ArrayList<>();
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            Path path = Path.of(entry);
            String name = path.getFileName().toString();
            if (Files.isDirectory(path) && name.equals("classes")) classPath.add(entry); // Flint's own classes
            else if (prefixes.stream().anyMatch(name::startsWith)) classPath.add(entry);
            else if (name.endsWith(".jar")) left.add(name);
        }
        assertFalse(left.isEmpty(), "the test class path has more libraries than the VMM's, or this test checks nothing");

        for (List<String> args : List.of(List.of("--help"), List.<String>of())) {
            List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-cp", String.join(File.pathSeparator, classPath), Main.class.getName()));
            command.addAll(args);
            Path out = tmp.resolve("out.txt");
            Process flint = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .start();
            boolean ended = flint.waitFor(120, TimeUnit.SECONDS);
            if (!ended) flint.destroyForcibly();
            String text = Files.readString(out);
            assertTrue(ended, "flint " + args + " did not end: " + text);
            assertEquals(args.isEmpty() ? Main.USAGE : Main.OK, flint.exitValue(), text);
            assertTrue(text.contains("Usage: flint [-h] [--debug] [COMMAND]"), text);
            for (String name : List.of("run ", "guest ", "cloud ", "jailer ", "device ", "snapshot ", "vmm ")) {
                assertTrue(text.contains("\n  " + name), name + " in " + text);
            }
        }
    }

    /** The file name prefixes of VmmJar.VMM_LIBRARIES, read from its source (the build step's one list). */
    private static List<String> vmmLibraryPrefixes() throws Exception {
        String source = Files.readString(Path.of("src/build/VmmJar.java"));
        Matcher list = Pattern.compile("VMM_LIBRARIES = List\\.of\\((.*?)\\);", Pattern.DOTALL).matcher(source);
        assertTrue(list.find(), "VMM_LIBRARIES in src/build/VmmJar.java");
        List<String> prefixes = new ArrayList<>();
        Matcher quoted = Pattern.compile("\"([^\"]+)\"").matcher(list.group(1).replaceAll("//[^\n]*", ""));
        while (quoted.find()) prefixes.add(quoted.group(1));
        assertTrue(prefixes.contains("picocli-"), prefixes.toString());
        return prefixes;
    }
}
