package dev.flint.cloud.actions;

import dev.flint.cloud.compute.InstanceRuntime;
import dev.flint.cloud.fleet.Fleet;
import dev.flint.cloud.store.Records;
import java.nio.file.Path;
import java.time.Clock;

/** What the action handlers share: the records, the instance state machine, and this region's names. */
public record CloudContext(
        Records records,
        Fleet fleet,
        InstanceRuntime runtime,
        // Where registered images' files live (the daemon's copies).
        Path imagesDir,
        String region,
        String availabilityZone,
        // The owner id every resource carries (one account per daemon).
        String accountId,
        Clock clock,
        // The URL clients reach this daemon at, for DescribeRegions (known once the server is bound).
        java.util.function.Supplier<String> endpoint) {

    public static final String DEFAULT_REGION = "flint-local";
    public static final String DEFAULT_ACCOUNT = "000000000000";

    public static String zoneOf(String region) {
        return region + "a";
    }
}
