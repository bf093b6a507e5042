package dev.flint.cloud.console;

import java.util.List;

/** Recent resource use of an instance, from its VMM (the runtime implements it). */
@FunctionalInterface
public interface InstanceMetrics {

    /**
     * One measurement. The byte counts are totals since the instance's VMM started (the console plots
     * their rates); {@code cpuPercent} is the VMM's CPU use since the previous sample (100 = one core).
     */
    record Sample(long epochMillis, double cpuPercent, long blockReadBytes, long blockWriteBytes,
                  long netRxBytes, long netTxBytes) {}

    /** The samples kept for the instance, oldest first; empty if there are none. */
    List<Sample> recent(String instanceId);
}
