package dev.flint.devices.mmds;

import java.security.SecureRandom;
import java.util.Base64;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * MMDS V2 session tokens: 32 random bytes (URL-safe base64), each valid for the lifetime its PUT asked
 * for (1 s to 6 h). At most {@link #MAX_TOKENS} live at once, so a guest asking for tokens in a loop
 * costs a bounded amount of memory: expired ones go first, then the one expiring soonest.
 */
final class MmdsTokens {
    static final int MAX_TOKENS = 1024;
    static final long MIN_TTL_SECONDS = 1, MAX_TTL_SECONDS = 21600;

    private final SecureRandom random = new SecureRandom();
    private final Map<String, Long> expiries = new HashMap<>();
    private final LongSupplier nanoClock;

    MmdsTokens(LongSupplier nanoClock) {
        this.nanoClock = nanoClock;
    }

    synchronized String issue(long ttlSeconds) {
        if (ttlSeconds < MIN_TTL_SECONDS || ttlSeconds > MAX_TTL_SECONDS) throw new IllegalArgumentException("ttl out of range");
        long now = nanoClock.getAsLong();
        if (expiries.size() >= MAX_TOKENS) evict(now);
        byte[] raw = new byte[32];
        random.nextBytes(raw);
        String token = Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
        expiries.put(token, now + ttlSeconds * 1_000_000_000L);
        return token;
    }

    synchronized boolean valid(String token) {
        if (token == null) return false;
        Long expiry = expiries.get(token);
        if (expiry == null) return false;
        if (nanoClock.getAsLong() - expiry >= 0) {
            expiries.remove(token);
            return false;
        }
        return true;
    }

    synchronized int size() { return expiries.size(); }

    private void evict(long now) {
        expiries.values().removeIf(expiry -> now - expiry >= 0);
        if (expiries.size() < MAX_TOKENS) return;
        String soonest = null;
        long soonestExpiry = Long.MAX_VALUE;
        for (Iterator<Map.Entry<String, Long>> it = expiries.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<String, Long> e = it.next();
            if (soonest == null || e.getValue() - soonestExpiry < 0) {
                soonest = e.getKey();
                soonestExpiry = e.getValue();
            }
        }
        expiries.remove(soonest);
    }
}
