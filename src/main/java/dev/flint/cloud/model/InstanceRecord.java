package dev.flint.cloud.model;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One instance as the control plane stores it. Immutable: every change is a new record written with
 * compare-and-set. {@code userData} is kept as the client sent it (base64); {@code rootVolume} is the
 * instance's own copy of its image, kept across stop/start and deleted on terminate.
 */
public record InstanceRecord(
        String instanceId,
        String reservationId,
        String imageId,
        String instanceType,
        int vcpus,
        int memoryMib,
        String keyName,
        // The key's OpenSSH public key as of launch: the instance keeps it even if the key pair is deleted.
        String publicKey,
        InstanceState state,
        // EC2's stateTransitionReason text, e.g. "User initiated (2026-01-01 10:00:00 GMT)"; empty if none.
        String stateReason,
        // EC2's stateReason code, e.g. "Client.UserInitiatedShutdown"; null if none.
        String stateReasonCode,
        String privateIp,
        String macAddress,
        String rootVolume,
        int rootVolumeGib,
        String userData,
        boolean tokensRequired,
        String launchTime,
        int launchIndex,
        String clientToken,
        Map<String, String> tags,
        // A RebootInstances is in progress: when the VMM exits it is launched again and stays running.
        boolean rebootPending,
        // The security groups of its network interface (null in records from before groups: the default group).
        java.util.List<String> securityGroupIds,
        // When it became terminated (ISO-8601), null before that: EC2 lists a terminated instance for about an
        // hour, then forgets it, and so does the fleet.
        String terminatedAt) {

    public InstanceRecord {
        securityGroupIds = securityGroupIds == null ? null : java.util.List.copyOf(securityGroupIds);
        tags = tags == null ? Map.of() : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(tags));
        stateReason = stateReason == null ? "" : stateReason;
    }

    public InstanceRecord withState(InstanceState next, String reason, String reasonCode) {
        return changed(next, reason, reasonCode, launchTime, tags, false, securityGroupIds,
                next == InstanceState.TERMINATED ? terminatedAt : null);
    }

    public InstanceRecord withReboot(boolean pending) {
        return changed(state, stateReason, stateReasonCode, launchTime, tags, pending, securityGroupIds, terminatedAt);
    }

    public InstanceRecord withLaunchTime(String time) {
        return changed(state, stateReason, stateReasonCode, time, tags, rebootPending, securityGroupIds, terminatedAt);
    }

    public InstanceRecord withTags(Map<String, String> newTags) {
        return changed(state, stateReason, stateReasonCode, launchTime, newTags, rebootPending, securityGroupIds, terminatedAt);
    }

    public InstanceRecord withSecurityGroups(java.util.List<String> groupIds) {
        return changed(state, stateReason, stateReasonCode, launchTime, tags, rebootPending, groupIds, terminatedAt);
    }

    /** Stamps the time it became terminated; see {@code terminatedAt}. */
    public InstanceRecord withTerminatedAt(String time) {
        return changed(state, stateReason, stateReasonCode, launchTime, tags, rebootPending, securityGroupIds, time);
    }

    /**
     * A copy with the parts that change over an instance's life replaced; what was fixed at launch (its
     * identity, size, key, address, volume, user data) is kept as it is.
     */
    private InstanceRecord changed(InstanceState state, String stateReason, String stateReasonCode, String launchTime,
                                   Map<String, String> tags, boolean rebootPending, java.util.List<String> securityGroupIds,
                                   String terminatedAt) {
        return new InstanceRecord(instanceId, reservationId, imageId, instanceType, vcpus, memoryMib, keyName, publicKey, state,
                stateReason, stateReasonCode, privateIp, macAddress, rootVolume, rootVolumeGib, userData, tokensRequired,
                launchTime, launchIndex, clientToken, tags, rebootPending, securityGroupIds, terminatedAt);
    }
}
