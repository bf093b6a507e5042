package dev.flint.cloud.actions;

import dev.flint.cloud.ec2.Ec2Exception;
import dev.flint.cloud.fleet.Ids;
import dev.flint.cloud.model.KeyPairRecord;
import dev.flint.cloud.model.Keys;
import dev.flint.cloud.store.Records;
import dev.flint.cloud.store.Records.Versioned;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import software.amazon.awssdk.services.ec2.model.CreateKeyPairRequest;
import software.amazon.awssdk.services.ec2.model.CreateKeyPairResponse;
import software.amazon.awssdk.services.ec2.model.DeleteKeyPairRequest;
import software.amazon.awssdk.services.ec2.model.DeleteKeyPairResponse;
import software.amazon.awssdk.services.ec2.model.DescribeKeyPairsRequest;
import software.amazon.awssdk.services.ec2.model.DescribeKeyPairsResponse;
import software.amazon.awssdk.services.ec2.model.ImportKeyPairRequest;
import software.amazon.awssdk.services.ec2.model.ImportKeyPairResponse;
import software.amazon.awssdk.services.ec2.model.KeyPairInfo;

/** CreateKeyPair, ImportKeyPair, DescribeKeyPairs, DeleteKeyPair (ed25519 and RSA; see {@link SshKeys} for fingerprints). */
public final class KeyPairActions {
    private final CloudContext cloud;
    private final Filters<KeyPairRecord> filters;

    public KeyPairActions(CloudContext cloud) {
        this.cloud = cloud;
        Map<String, Function<KeyPairRecord, Collection<String>>> a = new LinkedHashMap<>();
        a.put("key-name", k -> List.of(k.keyName()));
        a.put("key-pair-id", k -> List.of(k.keyPairId()));
        a.put("fingerprint", k -> List.of(k.fingerprint()));
        a.put("key-type", k -> List.of(k.keyType()));
        this.filters = new Filters<>(a, KeyPairRecord::tags);
    }

    public void register(ActionRegistry registry) {
        registry.add(CreateKeyPairRequest.class, this::create)
                .add(ImportKeyPairRequest.class, this::importKey)
                .add(DescribeKeyPairsRequest.class, this::describe)
                .add(DeleteKeyPairRequest.class, this::delete);
    }

    private static void checkName(String name) {
        if (name == null) throw Ec2Exception.missingParameter("KeyName");
        if (name.isEmpty() || name.length() > 255 || !name.chars().allMatch(c -> c >= 0x20 && c < 0x7F)) {
            throw Ec2Exception.invalidParameter("Key names must be 1 to 255 printable ASCII characters.");
        }
    }

    private CreateKeyPairResponse create(CreateKeyPairRequest q) {
        checkName(q.keyName());
        String type = q.keyTypeAsString() == null ? "rsa" : q.keyTypeAsString();
        if (!type.equals("rsa") && !type.equals("ed25519")) throw Ec2Exception.invalidParameter("Value (" + type + ") for parameter KeyType is invalid.");
        String format = q.keyFormatAsString() == null ? "pem" : q.keyFormatAsString();
        if (!format.equals("pem")) throw Ec2Exception.invalidParameter("Value (" + format + ") for parameter KeyFormat is not supported by Flint (only pem).");
        Map<String, String> tags = TagSupport.fromSpecifications(q.tagSpecifications(), "key-pair");
        SshKeys.Generated key = SshKeys.generate(type, q.keyName());
        KeyPairRecord record = store(new KeyPairRecord(Ids.next("key"), q.keyName(), type, key.fingerprint(), key.publicKeyLine(),
                Instant.now(cloud.clock()).toString(), tags));
        return CreateKeyPairResponse.builder().keyName(record.keyName()).keyFingerprint(record.fingerprint())
                .keyMaterial(key.privateKeyPem()).keyPairId(record.keyPairId()).tags(TagSupport.toSdk(tags)).build();
    }

    private ImportKeyPairResponse importKey(ImportKeyPairRequest q) {
        checkName(q.keyName());
        if (q.publicKeyMaterial() == null) throw Ec2Exception.missingParameter("PublicKeyMaterial");
        SshKeys.Parsed parsed = SshKeys.parsePublic(q.publicKeyMaterial().asByteArray());
        if (parsed == null) throw Ec2Exception.client("InvalidKey.Format", "Key is not in valid OpenSSH public key format (ssh-rsa or ssh-ed25519)");
        Map<String, String> tags = TagSupport.fromSpecifications(q.tagSpecifications(), "key-pair");
        KeyPairRecord record = store(new KeyPairRecord(Ids.next("key"), q.keyName(), parsed.type(), parsed.fingerprint(),
                parsed.publicKeyLine() + " " + q.keyName(), Instant.now(cloud.clock()).toString(), tags));
        return ImportKeyPairResponse.builder().keyName(record.keyName()).keyFingerprint(record.fingerprint())
                .keyPairId(record.keyPairId()).tags(TagSupport.toSdk(tags)).build();
    }

    private KeyPairRecord store(KeyPairRecord record) {
        if (!cloud.records().store().putIfAbsent(Keys.KEY_PAIR + record.keyName(), Records.encode(record))) {
            throw Ec2Exception.client("InvalidKeyPair.Duplicate", "The keypair '" + record.keyName() + "' already exists.");
        }
        return record;
    }

    static List<Versioned<KeyPairRecord>> all(CloudContext cloud) {
        return cloud.records().list(Keys.KEY_PAIR, KeyPairRecord.class);
    }

    static Optional<Versioned<KeyPairRecord>> byId(CloudContext cloud, String keyPairId) {
        return all(cloud).stream().filter(v -> v.value().keyPairId().equals(keyPairId)).findFirst();
    }

    private DescribeKeyPairsResponse describe(DescribeKeyPairsRequest q) {
        List<KeyPairRecord> chosen = new ArrayList<>();
        if (q.keyNames().isEmpty() && q.keyPairIds().isEmpty()) {
            for (Versioned<KeyPairRecord> v : all(cloud)) chosen.add(v.value());
        }
        for (String name : q.keyNames()) {
            chosen.add(cloud.records().get(Keys.KEY_PAIR + name, KeyPairRecord.class).map(Versioned::value)
                    .orElseThrow(() -> Ec2Exception.client("InvalidKeyPair.NotFound", "The key pair '" + name + "' does not exist")));
        }
        for (String id : q.keyPairIds()) {
            chosen.add(byId(cloud, id).map(Versioned::value)
                    .orElseThrow(() -> Ec2Exception.client("InvalidKeyPair.NotFound", "The key pair ID '" + id + "' does not exist")));
        }
        boolean withPublic = Boolean.TRUE.equals(q.includePublicKey());
        List<KeyPairInfo> infos = filters.apply(q.filters(), chosen).stream().distinct().map(k -> {
            KeyPairInfo.Builder b = KeyPairInfo.builder().keyPairId(k.keyPairId()).keyName(k.keyName()).keyFingerprint(k.fingerprint())
                    .keyType(k.keyType()).createTime(Instant.parse(k.createTime())).tags(TagSupport.toSdk(k.tags()));
            if (withPublic) b.publicKey(k.publicKey());
            return b.build();
        }).toList();
        return DescribeKeyPairsResponse.builder().keyPairs(infos).build();
    }

    /** Deleting a key that does not exist succeeds, as in EC2; instances launched with it keep their key. */
    private DeleteKeyPairResponse delete(DeleteKeyPairRequest q) {
        if (q.keyName() == null && q.keyPairId() == null) throw Ec2Exception.missingParameter("KeyName or KeyPairId");
        Optional<Versioned<KeyPairRecord>> found = q.keyPairId() != null ? byId(cloud, q.keyPairId())
                : cloud.records().get(Keys.KEY_PAIR + q.keyName(), KeyPairRecord.class);
        if (q.keyPairId() != null && found.isEmpty()) {
            throw Ec2Exception.client("InvalidKeyPair.NotFound", "The key pair ID '" + q.keyPairId() + "' does not exist");
        }
        found.ifPresent(v -> cloud.records().store().delete(v.entry()));
        DeleteKeyPairResponse.Builder out = DeleteKeyPairResponse.builder().returnValue(true);
        found.ifPresent(v -> out.keyPairId(v.value().keyPairId()));
        return out.build();
    }
}
