package dev.flint.cloud.compute;

import java.util.List;
import java.util.Optional;

/**
 * What the instance metadata service (169.254.169.254) may tell a guest, looked up by the private
 * address the request came from. The control plane implements it from its store; the metadata server
 * (part of the runtime's networking) only serves it, and never answers one instance with another's data.
 */
public interface MetadataSource {

    /** One instance's metadata, as of the lookup. */
    record InstanceMetadata(
            String instanceId,
            String instanceType,
            String imageId,
            String privateIp,
            String hostname,
            String availabilityZone,
            String macAddress,
            /** OpenSSH public keys by key name, in launch order (public-keys/0/openssh-key is the first). */
            List<PublicKey> publicKeys,
            /** Raw (decoded) user data, empty if none. */
            byte[] userData,
            /** MetadataOptions.HttpTokens=required: IMDSv1 requests get 401. */
            boolean tokensRequired) {}

    record PublicKey(String name, String openSshKey) {}

    Optional<InstanceMetadata> byPrivateIp(String privateIp);
}
