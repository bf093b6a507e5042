package dev.flint.api.model;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/** {@code PUT /mmds/config}: which interfaces reach the metadata service, at which address, which version. */
public record MmdsConfig(
        @JsonProperty("version") String version,
        @JsonProperty("network_interfaces") List<String> networkInterfaces,
        @JsonProperty("ipv4_address") String ipv4Address,
        @JsonProperty("imds_compat") Boolean imdsCompat) {}
