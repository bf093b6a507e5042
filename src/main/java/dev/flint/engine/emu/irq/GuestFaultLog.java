package dev.flint.engine.emu.irq;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * Warnings about things a guest got wrong (bad vectors, reserved modes, MSIs nowhere). A guest can
 * repeat a mistake millions of times, so each kind is logged a few times and then counted silently:
 * the log shows the problem without letting the guest flood the host.
 */
final class GuestFaultLog {
    private static final int LOGGED_PER_KIND = 10;

    private final Logger logger;
    private final ConcurrentHashMap<String, AtomicLong> seen = new ConcurrentHashMap<>();

    GuestFaultLog(Class<?> owner) { this.logger = Logger.getLogger(owner.getName()); }

    /** Logs {@code message} unless {@code kind} has already been logged often enough. */
    void warn(String kind, Supplier<String> message) {
        long n = seen.computeIfAbsent(kind, k -> new AtomicLong()).incrementAndGet();
        if (n < LOGGED_PER_KIND) logger.warning(message);
        else if (n == LOGGED_PER_KIND) logger.warning(() -> message.get() + " (further \"" + kind + "\" not logged)");
    }
}
