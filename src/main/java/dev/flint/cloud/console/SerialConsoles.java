package dev.flint.cloud.console;

import java.util.Optional;
import java.util.function.Consumer;

/** Where the console reaches an instance's serial port (the runtime implements it). */
@FunctionalInterface
public interface SerialConsoles {

    /**
     * Attaches to the serial port of a running instance. {@code guestOutput} receives what the guest
     * writes, from a thread of the implementation's, until the session is closed or the instance ends.
     * Empty if the instance has no serial port to attach to now (unknown, or not running).
     */
    Optional<SerialSession> open(String instanceId, Consumer<byte[]> guestOutput);
}
