package dev.flint.api.model;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * The optional body of Flint's {@code DELETE /drives/{drive_id}}: {@code force} removes a hot-plugged NVMe
 * controller at once (surprise removal) instead of asking the guest to eject it and waiting.
 */
public record DriveRemoval(@JsonProperty("force") Boolean force) {}
