package dev.flint.api.model;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * The whole machine as one document: what {@code GET /vm/config} answers and what {@code --config-file}
 * contains. Only the sections Flint implements exist here, so a config file naming another one
 * (cpu-config, ...) fails as an unknown field instead of being ignored.
 */
public record FullVmConfiguration(
        @JsonProperty("boot-source") BootSource bootSource,
        @JsonProperty("machine-config") MachineConfiguration machineConfig,
        @JsonProperty("drives") List<Drive> drives,
        @JsonProperty("network-interfaces") List<NetworkInterface> networkInterfaces,
        @JsonProperty("entropy") EntropyDevice entropy,
        @JsonProperty("logger") LoggerConfig logger,
        @JsonProperty("metrics") MetricsConfig metrics,
        @JsonProperty("mmds-config") MmdsConfig mmdsConfig,
        @JsonProperty("vsock") Vsock vsock,
        @JsonProperty("balloon") Balloon balloon) {

    /** The document without a balloon section. */
    public FullVmConfiguration(BootSource bootSource, MachineConfiguration machineConfig, List<Drive> drives,
                               List<NetworkInterface> networkInterfaces, EntropyDevice entropy, LoggerConfig logger,
                               MetricsConfig metrics, MmdsConfig mmdsConfig, Vsock vsock) {
        this(bootSource, machineConfig, drives, networkInterfaces, entropy, logger, metrics, mmdsConfig, vsock, null);
    }

    /** The document without MMDS and vsock sections. */
    public FullVmConfiguration(BootSource bootSource, MachineConfiguration machineConfig, List<Drive> drives,
                               List<NetworkInterface> networkInterfaces, EntropyDevice entropy, LoggerConfig logger,
                               MetricsConfig metrics) {
        this(bootSource, machineConfig, drives, networkInterfaces, entropy, logger, metrics, null, null, null);
    }
}
