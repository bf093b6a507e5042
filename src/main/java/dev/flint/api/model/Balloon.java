package dev.flint.api.model;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * {@code PUT /balloon} (and the config file's {@code balloon} section): a virtio-balloon device. Free page
 * hinting and reporting are Firecracker features Flint does not offer; asking for them is refused.
 */
public record Balloon(@JsonProperty("amount_mib") Long amountMib,
                      @JsonProperty("deflate_on_oom") Boolean deflateOnOom,
                      @JsonProperty("stats_polling_interval_s") Integer statsPollingIntervalS,
                      @JsonProperty("free_page_hinting") Boolean freePageHinting,
                      @JsonProperty("free_page_reporting") Boolean freePageReporting) {

    public Balloon(long amountMib, boolean deflateOnOom, int statsPollingIntervalS) {
        this(amountMib, deflateOnOom, statsPollingIntervalS, null, null);
    }

    /** The same device with another target. */
    public Balloon withAmount(long mib) {
        return new Balloon(mib, deflateOnOom, statsPollingIntervalS, freePageHinting, freePageReporting);
    }

    /** The same device with another polling interval. */
    public Balloon withInterval(int seconds) {
        return new Balloon(amountMib, deflateOnOom, seconds, freePageHinting, freePageReporting);
    }
}
