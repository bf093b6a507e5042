package dev.flint.devices.virtio.balloon;

/**
 * A virtio-balloon device as Firecracker configures it ({@code PUT /balloon}).
 *
 * @param amountMib             the target: how much of the guest's RAM the balloon should hold, in MiB
 * @param deflateOnOom          offer VIRTIO_BALLOON_F_DEFLATE_ON_OOM: the guest may take pages back from
 *                              the balloon when it would otherwise run out of memory
 * @param statsPollingIntervalS seconds between statistics requests; 0 disables statistics (no stats queue)
 */
public record BalloonConfig(long amountMib, boolean deflateOnOom, int statsPollingIntervalS) {
    /** The config space counts 4 KiB pages in 32 bits. */
    public static final long MAX_AMOUNT_MIB = 0xFFFF_FFFFL / VirtioBalloon.PAGES_PER_MIB;
    /** Firecracker's field is a u16. */
    public static final int MAX_INTERVAL_S = 0xFFFF;

    public BalloonConfig {
        checkAmount(amountMib);
        if (statsPollingIntervalS < 0 || statsPollingIntervalS > MAX_INTERVAL_S) {
            throw new BalloonException("stats_polling_interval_s must be between 0 and " + MAX_INTERVAL_S + ", not " + statsPollingIntervalS);
        }
    }

    public boolean statsEnabled() { return statsPollingIntervalS > 0; }

    /**
     * {@code flint run --balloon MIB[,deflate_on_oom]}: a balloon with that target from boot (no statistics:
     * nothing could read them without the API).
     */
    public static BalloonConfig parse(String spec) {
        String[] parts = spec.split(",", -1);
        long mib;
        try {
            mib = Long.parseLong(parts[0].trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--balloon " + spec + ": the target must be a number of MiB");
        }
        boolean deflate = false;
        for (int i = 1; i < parts.length; i++) {
            if (!parts[i].equals("deflate_on_oom")) {
                throw new IllegalArgumentException("--balloon " + spec + ": unknown option '" + parts[i] + "' (only deflate_on_oom)");
            }
            deflate = true;
        }
        try {
            return new BalloonConfig(mib, deflate, 0);
        } catch (BalloonException e) {
            throw new IllegalArgumentException("--balloon " + spec + ": " + e.getMessage());
        }
    }

    static void checkAmount(long amountMib) {
        if (amountMib < 0 || amountMib > MAX_AMOUNT_MIB) {
            throw new BalloonException("amount_mib must be between 0 and " + MAX_AMOUNT_MIB + ", not " + amountMib);
        }
    }
}
