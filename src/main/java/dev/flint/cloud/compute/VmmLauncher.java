package dev.flint.cloud.compute;

import java.io.File;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * How to start {@code flint vmm}: the command that runs this very Flint (same JDK, same class path, the
 * JVM options bin/flint uses plus {@code FLINT_JAVA_OPTS}), so every instance runs the code of the daemon
 * that launched it.
 */
record VmmLauncher(List<String> flintCommand) {
    /** The memory sizing bin/flint gives `flint vmm` (its comment says why); FLINT_JAVA_OPTS, added after, can override. */
    static final List<String> MEMORY_OPTIONS = List.of("-Xmx116m", "-Djdk.nio.maxCachedBufferSize=262144");
    /**
     * The locale data bin/flint gives `flint vmm` (its comment says why): the VMM's output reads the same
     * whatever the host's locale, and its start skips CLDR's list of every locale.
     */
    static final String LOCALE_OPTION = "-Djava.locale.providers=HOST";

    VmmLauncher {
        flintCommand = List.copyOf(flintCommand);
    }

    /** The Flint of this JVM: java.home's java, this class path (absolute), dev.flint.cli.Main. */
    static VmmLauncher ofThisJvm() {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC"));
        command.addAll(MEMORY_OPTIONS);
        command.add(LOCALE_OPTION);
        String options = System.getenv("FLINT_JAVA_OPTS");
        if (options != null && !options.isBlank()) command.addAll(Arrays.asList(options.strip().split("\\s+")));
        // Under Surefire java.class.path is a booter jar; the real class path is in this property.
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        String absolute = String.join(File.pathSeparator, Arrays.stream(classPath.split(File.pathSeparator))
                .filter(s -> !s.isBlank()).map(s -> Path.of(s).toAbsolutePath().toString()).toList());
        command.addAll(List.of("-cp", absolute, "dev.flint.cli.Main"));
        return new VmmLauncher(command);
    }

    /** {@code flint vmm ...} for one instance. */
    List<String> vmm(Path apiSocket, String instanceId, String engine) {
        List<String> command = new ArrayList<>(flintCommand);
        command.addAll(List.of("vmm", "--api-sock", apiSocket.toString(), "--id", instanceId,
                "--engine", engine, "--boot-timer"));
        return command;
    }
}
