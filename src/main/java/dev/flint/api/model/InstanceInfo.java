package dev.flint.api.model;

import com.fasterxml.jackson.annotation.JsonProperty;

/** {@code GET /}: who answers and in which state the microVM is. */
public record InstanceInfo(
        @JsonProperty("app_name") String appName,
        @JsonProperty("id") String id,
        @JsonProperty("state") String state,
        @JsonProperty("vmm_version") String vmmVersion) {}
