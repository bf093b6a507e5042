package dev.flint.api.model;

import com.fasterxml.jackson.annotation.JsonProperty;

/** {@code PUT /actions}: InstanceStart, SendCtrlAltDel or FlushMetrics. */
public record InstanceActionInfo(@JsonProperty("action_type") String actionType) {}
