package dev.flint.api.model;

import com.fasterxml.jackson.annotation.JsonProperty;

/** {@code GET /version}. */
public record FirecrackerVersion(@JsonProperty("firecracker_version") String firecrackerVersion) {}
