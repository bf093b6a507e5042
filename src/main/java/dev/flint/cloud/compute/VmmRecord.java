package dev.flint.cloud.compute;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.Optional;
import java.util.Properties;

/**
 * What the runtime writes down about a running VMM (instances/ID/vmm.properties), so that a restarted
 * daemon can find it again: its pid and the process's start time (a pid alone may have been reused by
 * then), and the network port to keep guarding. Written atomically (temp file, rename).
 */
record VmmRecord(String instanceId, long pid, Instant started, InstanceNetwork.Port port) {

    void write(Path file) throws IOException {
        Properties p = new Properties();
        p.setProperty("instance", instanceId);
        p.setProperty("pid", Long.toString(pid));
        p.setProperty("started", started.toString());
        p.setProperty("tap", port.tap());
        p.setProperty("mac", port.mac());
        p.setProperty("ip", port.ip());
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (Writer w = Files.newBufferedWriter(tmp)) {
            p.store(w, "flint vmm of one instance");
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    static Optional<VmmRecord> read(Path file) {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file)) {
            p.load(r);
            InstanceNetwork.Port port = InstanceNetwork.port(p.getProperty("ip"), p.getProperty("mac"));
            return Optional.of(new VmmRecord(p.getProperty("instance"), Long.parseLong(p.getProperty("pid")),
                    Instant.parse(p.getProperty("started")), port));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /** The live process this record names, if it still runs (same pid and same start time). */
    Optional<ProcessHandle> live() {
        return ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
                .filter(h -> h.info().startInstant().map(started::equals).orElse(false));
    }
}
