package dev.flint.api.model;

import com.fasterxml.jackson.annotation.JsonProperty;

/** {@code PATCH /vm}: the desired run state, "Paused" or "Resumed". */
public record VmState(@JsonProperty("state") String state) {}
