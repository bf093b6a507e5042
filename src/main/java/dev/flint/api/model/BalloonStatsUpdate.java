package dev.flint.api.model;

import com.fasterxml.jackson.annotation.JsonProperty;

/** {@code PATCH /balloon/statistics}: a new polling interval (statistics stay on or off as configured). */
public record BalloonStatsUpdate(@JsonProperty("stats_polling_interval_s") Integer statsPollingIntervalS) {}
