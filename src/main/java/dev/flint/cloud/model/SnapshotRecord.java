package dev.flint.cloud.model;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One EBS snapshot: a point-in-time copy of a volume's file ({@code file}, in the data folder's
 * {@code snapshots/}), pending while it is made, completed once the copy is whole.
 */
public record SnapshotRecord(
        String snapshotId,
        String volumeId,
        int volumeSizeGib,
        // "pending", then "completed" (or "error" if the copy failed or the daemon stopped during it).
        String state,
        String description,
        String file,
        String startTime,
        Map<String, String> tags) {

    public SnapshotRecord {
        tags = tags == null ? Map.of() : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(tags));
        description = description == null ? "" : description;
    }

    public SnapshotRecord completed(String newDescription) {
        return new SnapshotRecord(snapshotId, volumeId, volumeSizeGib, "completed", newDescription, file, startTime, tags);
    }

    public SnapshotRecord failed(String newDescription) {
        return new SnapshotRecord(snapshotId, volumeId, volumeSizeGib, "error", newDescription, file, startTime, tags);
    }

    public SnapshotRecord withTags(Map<String, String> newTags) {
        return new SnapshotRecord(snapshotId, volumeId, volumeSizeGib, state, description, file, startTime, newTags);
    }
}
