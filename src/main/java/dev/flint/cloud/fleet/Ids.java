package dev.flint.cloud.fleet;

import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.regex.Pattern;

/** EC2-shaped resource ids: a prefix and 17 lower-case hex digits ({@code i-0123456789abcdef0}). */
public final class Ids {
    private static final SecureRandom RANDOM = new SecureRandom();
    public static final Pattern INSTANCE = Pattern.compile("i-(?:[0-9a-f]{8}|[0-9a-f]{17})");
    public static final Pattern IMAGE = Pattern.compile("ami-(?:[0-9a-f]{8}|[0-9a-f]{17})");
    public static final Pattern SNAPSHOT = Pattern.compile("snap-(?:[0-9a-f]{8}|[0-9a-f]{17})");
    public static final Pattern VOLUME = Pattern.compile("vol-(?:[0-9a-f]{8}|[0-9a-f]{17})");

    private Ids() {}

    public static String next(String prefix) {
        byte[] bytes = new byte[9];
        RANDOM.nextBytes(bytes);
        return prefix + "-" + HexFormat.of().formatHex(bytes).substring(0, 17);
    }
}
