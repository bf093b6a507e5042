package dev.flint.cloud.console;

import java.security.MessageDigest;
import java.security.SecureRandom;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The console's signed-in browsers: an unguessable session id (the cookie) and, per session, the CSRF
 * token that every state-changing request must echo in a header. Sessions live in memory only, so a
 * daemon restart signs everyone out; they end after {@link #IDLE} without use or {@link #LIFETIME} in all.
 */
final class ConsoleSessions {

    static final Duration IDLE = Duration.ofHours(2);
    static final Duration LIFETIME = Duration.ofHours(12);
    /** A bound on memory whatever clients do: the oldest session goes first. */
    static final int MAX_SESSIONS = 256;

    record Session(String id, String csrfToken, long createdMillis, long lastUsedMillis) {
        /** Constant-time comparison: the token must not leak through timing. */
        boolean csrfMatches(String given) {
            return given != null && MessageDigest.isEqual(
                    csrfToken.getBytes(StandardCharsets.US_ASCII), given.getBytes(StandardCharsets.US_ASCII));
        }
    }

    private final SecureRandom random = new SecureRandom();
    private final Clock clock;
    private final Map<String, Session> byId = new LinkedHashMap<>();

    ConsoleSessions(Clock clock) {
        this.clock = clock;
    }

    synchronized Session create() {
        long now = clock.millis();
        byId.values().removeIf(s -> expired(s, now));
        while (byId.size() >= MAX_SESSIONS) {
            byId.remove(byId.keySet().iterator().next());
        }
        Session session = new Session(token(), token(), now, now);
        byId.put(session.id(), session);
        return session;
    }

    /** The live session with this id, its last use moved to now; empty for unknown or expired ids. */
    synchronized Optional<Session> touch(String id) {
        if (id == null) {
            return Optional.empty();
        }
        Session session = byId.get(id);
        long now = clock.millis();
        if (session == null || expired(session, now)) {
            byId.remove(id);
            return Optional.empty();
        }
        Session used = new Session(session.id(), session.csrfToken(), session.createdMillis(), now);
        byId.put(id, used);
        return Optional.of(used);
    }

    synchronized void end(String id) {
        if (id != null) {
            byId.remove(id);
        }
    }

    private static boolean expired(Session s, long now) {
        return now - s.lastUsedMillis() > IDLE.toMillis() || now - s.createdMillis() > LIFETIME.toMillis();
    }

    private String token() {
        byte[] bytes = new byte[32];
        random.nextBytes(bytes);
        return HexFormat.of().formatHex(bytes);
    }
}
