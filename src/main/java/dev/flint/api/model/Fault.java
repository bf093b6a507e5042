package dev.flint.api.model;

import com.fasterxml.jackson.annotation.JsonProperty;

/** The body of every error answer, as Firecracker sends it. */
public record Fault(@JsonProperty("fault_message") String faultMessage) {}
