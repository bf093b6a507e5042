package dev.flint.api.model;

import com.fasterxml.jackson.annotation.JsonProperty;

/** {@code PUT /snapshot/create}: where the state and the guest memory go; {@code snapshot_type} Full (default) or Diff. */
public record SnapshotCreateParams(@JsonProperty("mem_file_path") String memFilePath,
                                   @JsonProperty("snapshot_path") String snapshotPath,
                                   @JsonProperty("snapshot_type") String snapshotType) {}
