package dev.flint.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The training run bin/flint records its ahead-of-time cache from: if it failed or hung, every launch
 * would start without the cache (bin/flint only logs the failure), so it must run to its end on its own.
 */
class StartupTrainingTest {
    @TempDir Path tmp;

    @Test
    void theTrainingRunServesTheApiAndExitsOnItsOwn() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path log = tmp.resolve("training.log");
        Process training = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC",
                "-Djava.io.tmpdir=" + tmp, "-cp", System.getProperty("java.class.path"), StartupTraining.class.getName())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        boolean ended = training.waitFor(120, TimeUnit.SECONDS);
        if (!ended) training.destroyForcibly();
        assertTrue(ended, "training did not end: " + Files.readString(log));
        assertEquals(0, training.exitValue(), Files.readString(log));
        try (var left = Files.list(tmp)) {
            assertEquals(List.of(log), left.toList(), "the training leaves nothing behind");
        }
    }
}
