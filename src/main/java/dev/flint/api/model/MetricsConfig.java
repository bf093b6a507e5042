package dev.flint.api.model;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Map;

/** {@code PUT /metrics}: JSON-lines metrics output to a file or named pipe. */
public record MetricsConfig(
        @JsonProperty("metrics_path") String metricsPath,
        @JsonProperty("emit_id") Boolean emitId,
        @JsonProperty("properties") Map<String, String> properties) {}
