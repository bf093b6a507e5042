package dev.flint.cloud.actions;

import dev.flint.cloud.ec2.Ec2Exception;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import software.amazon.awssdk.services.ec2.model.AvailabilityZone;
import software.amazon.awssdk.services.ec2.model.DescribeAvailabilityZonesRequest;
import software.amazon.awssdk.services.ec2.model.DescribeAvailabilityZonesResponse;
import software.amazon.awssdk.services.ec2.model.DescribeRegionsRequest;
import software.amazon.awssdk.services.ec2.model.DescribeRegionsResponse;
import software.amazon.awssdk.services.ec2.model.Region;

/** DescribeRegions and DescribeAvailabilityZones: one daemon is one region with one zone (its host). */
public final class RegionActions {
    private final CloudContext cloud;

    public RegionActions(CloudContext cloud) {
        this.cloud = cloud;
    }

    public void register(ActionRegistry registry) {
        registry.add(DescribeRegionsRequest.class, this::regions).add(DescribeAvailabilityZonesRequest.class, this::zones);
    }

    private DescribeRegionsResponse regions(DescribeRegionsRequest q) {
        for (String name : q.regionNames()) {
            if (!name.equals(cloud.region())) throw Ec2Exception.invalidParameter("Invalid region name: " + name);
        }
        Region region = Region.builder().regionName(cloud.region()).endpoint(cloud.endpoint().get()).optInStatus("opt-in-not-required").build();
        Map<String, Function<Region, Collection<String>>> a = new LinkedHashMap<>();
        a.put("region-name", r -> List.of(r.regionName()));
        a.put("endpoint", r -> List.of(r.endpoint()));
        a.put("opt-in-status", r -> List.of(r.optInStatus()));
        return DescribeRegionsResponse.builder().regions(new Filters<>(a, null).apply(q.filters(), List.of(region))).build();
    }

    private DescribeAvailabilityZonesResponse zones(DescribeAvailabilityZonesRequest q) {
        String zoneId = cloud.region() + "-az1";
        for (String name : q.zoneNames()) {
            if (!name.equals(cloud.availabilityZone())) throw Ec2Exception.invalidParameter("The zone '" + name + "' does not exist.");
        }
        for (String id : q.zoneIds()) {
            if (!id.equals(zoneId)) throw Ec2Exception.invalidParameter("The zone ID '" + id + "' does not exist.");
        }
        AvailabilityZone zone = AvailabilityZone.builder().zoneName(cloud.availabilityZone()).zoneId(zoneId).regionName(cloud.region())
                .state("available").zoneType("availability-zone").groupName(cloud.region()).networkBorderGroup(cloud.region())
                .optInStatus("opt-in-not-required").messages(List.of()).build();
        Map<String, Function<AvailabilityZone, Collection<String>>> a = new LinkedHashMap<>();
        a.put("zone-name", z -> List.of(z.zoneName()));
        a.put("zone-id", z -> List.of(z.zoneId()));
        a.put("region-name", z -> List.of(z.regionName()));
        a.put("state", z -> List.of(z.stateAsString()));
        a.put("zone-type", z -> List.of(z.zoneType()));
        a.put("group-name", z -> List.of(z.groupName()));
        return DescribeAvailabilityZonesResponse.builder()
                .availabilityZones(new Filters<>(a, null).apply(q.filters(), List.of(zone))).build();
    }
}
