package dev.flint.api.model;

import com.fasterxml.jackson.annotation.JsonProperty;

/** {@code PATCH /balloon}: a new target. */
public record BalloonUpdate(@JsonProperty("amount_mib") Long amountMib) {}
