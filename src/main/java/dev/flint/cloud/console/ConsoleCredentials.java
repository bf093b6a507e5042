package dev.flint.cloud.console;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Objects;

/** Decides whether an access key id and secret are the daemon's own credentials. */
@FunctionalInterface
public interface ConsoleCredentials {

    boolean accepts(String accessKeyId, String secretAccessKey);

    /** Exactly one key pair, compared in constant time so the answer's timing tells nothing about it. */
    static ConsoleCredentials of(String accessKeyId, String secretAccessKey) {
        byte[] id = Objects.requireNonNull(accessKeyId).getBytes(StandardCharsets.UTF_8);
        byte[] secret = Objects.requireNonNull(secretAccessKey).getBytes(StandardCharsets.UTF_8);
        return (givenId, givenSecret) -> {
            boolean idMatches = MessageDigest.isEqual(id, givenId.getBytes(StandardCharsets.UTF_8));
            boolean secretMatches = MessageDigest.isEqual(secret, givenSecret.getBytes(StandardCharsets.UTF_8));
            return idMatches & secretMatches;
        };
    }
}
