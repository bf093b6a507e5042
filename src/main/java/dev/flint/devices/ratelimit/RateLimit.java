package dev.flint.devices.ratelimit;

/**
 * A device direction's limits: bytes ({@code bandwidth}) and requests ({@code ops}), either null (or not
 * {@link BucketConfig#limits() limiting}) for no limit of that kind.
 */
public record RateLimit(BucketConfig bandwidth, BucketConfig ops) {
    /** No limit at all. */
    public static final RateLimit NONE = new RateLimit(null, null);

    public RateLimit {
        if (bandwidth != null && !bandwidth.limits()) bandwidth = null;
        if (ops != null && !ops.limits()) ops = null;
    }

    /** Whether either bucket limits anything. */
    public boolean limits() { return bandwidth != null || ops != null; }

    /** {@code limit}, or {@link #NONE} for null. */
    public static RateLimit orNone(RateLimit limit) { return limit == null ? NONE : limit; }

    /**
     * Parses the command line's bucket form {@code SIZE/REFILL_MS[/ONE_TIME_BURST]} ("1048576/1000" is
     * 1 MiB per second); the IllegalArgumentException's message is one line for the user.
     */
    public static BucketConfig parseBucket(String option, String value) {
        String[] parts = value.split("/", -1);
        if (parts.length < 2 || parts.length > 3) {
            throw new IllegalArgumentException(option + "=" + value + ": expected SIZE/REFILL_MS[/ONE_TIME_BURST]");
        }
        try {
            long size = Long.parseLong(parts[0]), refill = Long.parseLong(parts[1]);
            long burst = parts.length == 3 ? Long.parseLong(parts[2]) : 0;
            return new BucketConfig(size, burst, refill);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + "=" + value + ": SIZE, REFILL_MS and ONE_TIME_BURST are whole numbers");
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(option + "=" + value + ": " + e.getMessage());
        }
    }
}
