package dev.flint.cloud.model;

import java.util.List;

/**
 * What a RunInstances with a ClientToken made, so a retry with the same token answers the same reservation
 * instead of launching again. {@code requestDigest} identifies the parameters: the same token with other
 * parameters is EC2's {@code IdempotentParameterMismatch}.
 */
public record RunToken(String clientToken, String requestDigest, String reservationId, List<String> instanceIds) {
    public RunToken {
        instanceIds = List.copyOf(instanceIds);
    }
}
