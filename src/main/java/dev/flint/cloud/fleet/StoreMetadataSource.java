package dev.flint.cloud.fleet;

import dev.flint.cloud.compute.MetadataSource;
import dev.flint.cloud.model.InstanceRecord;
import dev.flint.cloud.model.Keys;
import dev.flint.cloud.store.Records;
import java.util.Base64;
import java.util.List;
import java.util.Optional;

/**
 * The metadata service's view of the store: the instance that owns a private address (terminated ones own
 * none), with its key's public half and its user data decoded from base64.
 */
public final class StoreMetadataSource implements MetadataSource {
    private final Records records;
    private final String region;
    private final String availabilityZone;

    public StoreMetadataSource(Records records, String region, String availabilityZone) {
        this.records = records;
        this.region = region;
        this.availabilityZone = availabilityZone;
    }

    @Override
    public Optional<InstanceMetadata> byPrivateIp(String privateIp) {
        for (Records.Versioned<InstanceRecord> v : records.list(Keys.INSTANCE, InstanceRecord.class)) {
            InstanceRecord r = v.value();
            if (!r.state().holdsAddress() || !r.privateIp().equals(privateIp)) continue;
            List<PublicKey> keys = r.keyName() == null || r.publicKey() == null ? List.of()
                    : List.of(new PublicKey(r.keyName(), r.publicKey()));
            byte[] userData = r.userData() == null ? new byte[0] : Base64.getMimeDecoder().decode(r.userData());
            return Optional.of(new InstanceMetadata(r.instanceId(), r.instanceType(), r.imageId(), r.privateIp(),
                    AddressPlan.hostnameFor(r.privateIp(), region), availabilityZone, r.macAddress(), keys, userData,
                    r.tokensRequired()));
        }
        return Optional.empty();
    }
}
