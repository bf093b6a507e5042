package dev.flint.devices.virtio.balloon;

import java.util.Map;

/**
 * What the balloon reports: the target and what the guest says it holds, in 4 KiB pages and MiB, and the
 * latest figures from the guest's statistics buffer under Firecracker's names (a figure the guest never
 * sent is absent).
 */
public record BalloonStatistics(long targetPages, long actualPages, Map<String, Long> guest) {
    public BalloonStatistics {
        guest = Map.copyOf(guest);
    }

    public long targetMib() { return targetPages / VirtioBalloon.PAGES_PER_MIB; }

    public long actualMib() { return actualPages / VirtioBalloon.PAGES_PER_MIB; }
}
