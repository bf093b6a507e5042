package dev.flint.cloud.model;

import java.util.LinkedHashMap;
import java.util.Map;

/** A key pair: only the public half is kept (EC2 hands the private key out once, at creation). */
public record KeyPairRecord(
        String keyPairId,
        String keyName,
        // {@code rsa} or {@code ed25519}.
        String keyType,
        String fingerprint,
        // The OpenSSH public key line ({@code ssh-ed25519 AAAA... NAME}).
        String publicKey,
        String createTime,
        Map<String, String> tags) {

    public KeyPairRecord {
        tags = tags == null ? Map.of() : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(tags));
    }

    public KeyPairRecord withTags(Map<String, String> newTags) {
        return new KeyPairRecord(keyPairId, keyName, keyType, fingerprint, publicKey, createTime, newTags);
    }
}
