package dev.flint.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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
        assertTrainingEndsOnItsOwn();
    }

    /**
     * {@code flint run}'s cache is trained on a boot of a tiny kernel on the emu engine: the training fails
     * (non-zero exit) unless that guest ran to its isa-debug-exit write, so a kernel that faulted, hung or
     * never reached long mode shows here. The guest's own test: {@link #theTrainingKernelReachesLongModeAndCompilesItsLoop}.
     */
    @Test
    void theRunTrainingBootsItsKernelToTheEndOnTheEmuEngine() throws Exception {
        assertTrainingEndsOnItsOwn("run");
    }

    @Test
    void theTrainingKernelReachesLongModeAndCompilesItsLoop() throws Exception {
        Path kernel = Files.write(tmp.resolve("k.bin"), HexFormat.of().parseHex(StartupTraining.TRAINING_KERNEL));
        Path profile = tmp.resolve("profile.txt");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path log = tmp.resolve("run.log");
        Process run = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC",
                "-Dflint.emu.profile=" + profile, "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "run", "--engine", "emu", "--memory", "64", "--kernel", kernel.toString(), "--debug-exit", "0xf4")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        boolean ended = run.waitFor(180, TimeUnit.SECONDS);
        if (!ended) run.destroyForcibly();
        assertTrue(ended, "the training kernel did not end: " + Files.readString(log));
        assertEquals(StartupTraining.TRAINING_KERNEL_EXIT, run.exitValue(), Files.readString(log));
        assertEquals(".", Files.readString(log).strip(), "the kernel's serial output, from long mode");
        // Its loop (call, push, pop, load, store, IMUL) runs in a block tier: as native code (the engine's
        // default: the translator, emitter and code cache ran, so their classes are in the cache) or, with the
        // native tier off, compiled (the block compiler and the JDK's class-file library).
        String summary = Files.readString(profile);
        Matcher tiers = Pattern.compile("# ([0-9.]+)% of instructions ran as native code, ([0-9.]+)% in compiled blocks")
                .matcher(summary);
        assertTrue(tiers.find(), summary);
        assertTrue(Double.parseDouble(tiers.group(1)) + Double.parseDouble(tiers.group(2)) >= 50, summary);
    }

    private void assertTrainingEndsOnItsOwn(String... args) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path log = tmp.resolve("training.log");
        List<String> command = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC",
                "-Djava.io.tmpdir=" + tmp, "-cp", System.getProperty("java.class.path"), StartupTraining.class.getName()));
        command.addAll(List.of(args));
        Process training = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        boolean ended = training.waitFor(180, TimeUnit.SECONDS);
        if (!ended) training.destroyForcibly();
        assertTrue(ended, "training did not end: " + Files.readString(log));
        assertEquals(0, training.exitValue(), Files.readString(log));
        try (var left = Files.list(tmp)) {
            assertEquals(List.of(log), left.toList(), "the training leaves nothing behind");
        }
    }
}
