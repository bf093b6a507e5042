package dev.flint.cloud.console;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

/** The sign-in throttle and session expiry, on a clock the test moves. */
class SignInThrottleTest {

    private static final class MovableClock extends Clock {
        Instant now = Instant.parse("2026-12-05T12:00:00Z");

        @Override
        public ZoneOffset getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }

        void advance(Duration d) {
            now = now.plus(d);
        }
    }

    @Test
    void anAddressThatFailsTooOftenWaitsUntilItsOldestFailureLeavesTheWindow() {
        MovableClock clock = new MovableClock();
        SignInThrottle throttle = new SignInThrottle(clock);
        for (int n = 0; n < SignInThrottle.FAILURES_PER_WINDOW; n++) {
            assertEquals(0, throttle.waitSeconds("10.0.0.1"));
            throttle.failed("10.0.0.1");
            clock.advance(Duration.ofSeconds(1));
        }
        long wait = throttle.waitSeconds("10.0.0.1");
        assertTrue(wait > 50 && wait <= 60, "waits about a minute, was " + wait);
        assertEquals(0, throttle.waitSeconds("10.0.0.2"), "other addresses are not punished for one");
        clock.advance(Duration.ofSeconds(wait));
        assertEquals(0, throttle.waitSeconds("10.0.0.1"));
    }

    @Test
    void manyAddressesTogetherAreThrottledToo() {
        MovableClock clock = new MovableClock();
        SignInThrottle throttle = new SignInThrottle(clock);
        for (int n = 0; n < SignInThrottle.GLOBAL_FAILURES_PER_WINDOW; n++) {
            throttle.failed("10.1.0." + n);
        }
        assertTrue(throttle.waitSeconds("10.2.0.1") > 0);
        clock.advance(SignInThrottle.WINDOW);
        assertEquals(0, throttle.waitSeconds("10.2.0.1"));
    }

    @Test
    void sessionsEndWhenIdleOrTooOldAndTokensAreUnguessable() {
        MovableClock clock = new MovableClock();
        ConsoleSessions sessions = new ConsoleSessions(clock);
        ConsoleSessions.Session a = sessions.create();
        ConsoleSessions.Session b = sessions.create();
        assertEquals(64, a.id().length());
        assertTrue(!a.id().equals(b.id()) && !a.csrfToken().equals(a.id()));
        assertTrue(a.csrfMatches(a.csrfToken()));
        assertTrue(!a.csrfMatches(b.csrfToken()) && !a.csrfMatches(null) && !a.csrfMatches(""));

        clock.advance(ConsoleSessions.IDLE.minusMinutes(1));
        assertTrue(sessions.touch(a.id()).isPresent(), "use keeps a session alive");
        clock.advance(Duration.ofMinutes(2));
        assertTrue(sessions.touch(b.id()).isEmpty(), "an idle session ends");
        for (Duration used = Duration.ZERO; used.compareTo(ConsoleSessions.LIFETIME) < 0; used = used.plusHours(1)) {
            sessions.touch(a.id());
            clock.advance(Duration.ofHours(1));
        }
        assertTrue(sessions.touch(a.id()).isEmpty(), "no session outlives its lifetime, however used");
        assertTrue(sessions.touch("nonsense").isEmpty() && sessions.touch(null).isEmpty());
    }
}
