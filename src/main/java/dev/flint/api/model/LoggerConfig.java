package dev.flint.api.model;

import com.fasterxml.jackson.annotation.JsonProperty;

/** {@code PUT /logger}: human-readable log output to a file or named pipe. */
public record LoggerConfig(
        @JsonProperty("log_path") String logPath,
        @JsonProperty("level") String level,
        @JsonProperty("show_level") Boolean showLevel,
        @JsonProperty("show_log_origin") Boolean showLogOrigin,
        @JsonProperty("module") String module) {}
