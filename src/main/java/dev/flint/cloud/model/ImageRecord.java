package dev.flint.cloud.model;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A registered image: an ext4 root file system file that the daemon owns ({@code file}, in the data folder),
 * copied from where it was registered ({@code location}).
 */
public record ImageRecord(
        String imageId,
        String name,
        String description,
        String location,
        String file,
        long sizeBytes,
        String creationDate,
        Map<String, String> tags) {

    public ImageRecord {
        tags = tags == null ? Map.of() : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(tags));
        description = description == null ? "" : description;
    }

    public ImageRecord withTags(Map<String, String> newTags) {
        return new ImageRecord(imageId, name, description, location, file, sizeBytes, creationDate, newTags);
    }
}
