package dev.flint.cloud.model;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One EBS volume: a sparse raw file the daemon owns ({@code file}), its EC2 attributes, and the attachment it
 * has, if any. An instance's root volume is a volume like any other ({@code attachment.root}), attached from
 * launch on. Immutable: every change is a new record written with compare-and-set.
 */
public record VolumeRecord(
        String volumeId,
        int sizeGib,
        // EC2's VolumeType, kept as the label the client gave (gp3, io2...): every volume is the same sparse file.
        String volumeType,
        String availabilityZone,
        // The snapshot the volume was made from; null for an empty one.
        String snapshotId,
        VolumeState state,
        String file,
        String createTime,
        String clientToken,
        Map<String, String> tags,
        // Null while the volume is not attached.
        Attachment attachment) {

    /**
     * Where a volume is attached. {@code state} is EC2's attachment state: attaching, attached or detaching.
     * {@code root}: the instance's root volume (it boots from it; it cannot be detached while the instance exists).
     */
    public record Attachment(String instanceId, String device, String state, String attachTime, boolean deleteOnTermination,
            boolean root) {
        public Attachment withState(String next) {
            return new Attachment(instanceId, device, next, attachTime, deleteOnTermination, root);
        }
    }

    public VolumeRecord {
        tags = tags == null ? Map.of() : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(tags));
    }

    public boolean attachedTo(String instanceId) {
        return attachment != null && attachment.instanceId().equals(instanceId);
    }

    public VolumeRecord withState(VolumeState next) {
        return new VolumeRecord(volumeId, sizeGib, volumeType, availabilityZone, snapshotId, next, file, createTime, clientToken, tags,
                attachment);
    }

    public VolumeRecord withAttachment(Attachment next) {
        return new VolumeRecord(volumeId, sizeGib, volumeType, availabilityZone, snapshotId,
                next == null ? VolumeState.AVAILABLE : VolumeState.IN_USE, file, createTime, clientToken, tags, next);
    }

    public VolumeRecord withSize(int gib) {
        return new VolumeRecord(volumeId, gib, volumeType, availabilityZone, snapshotId, state, file, createTime, clientToken, tags,
                attachment);
    }

    public VolumeRecord withTags(Map<String, String> newTags) {
        return new VolumeRecord(volumeId, sizeGib, volumeType, availabilityZone, snapshotId, state, file, createTime, clientToken, newTags,
                attachment);
    }
}
