package dev.flint.cloud.actions;

import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import software.amazon.awssdk.core.SdkPojo;
import software.amazon.awssdk.services.ec2.model.Ec2Request;
import software.amazon.awssdk.services.ec2.model.Ec2Response;

/**
 * The EC2 actions Flint implements, by wire name, each with the SDK request type it decodes into. An action
 * that is not here is EC2's {@code InvalidAction}: nothing is advertised that has no handler.
 */
public final class ActionRegistry {
    /** One action's handler: a decoded request in, a response object out (or an {@code Ec2Exception}). */
    @FunctionalInterface
    public interface Handler<Q extends Ec2Request> {
        Ec2Response handle(Q request);
    }

    /** One registered action. */
    public record Action<Q extends Ec2Request>(String name, Class<Q> requestType, Handler<Q> handler) {
        /** A fresh builder of the request type, for the decoder to fill. */
        public SdkPojo newRequestBuilder() {
            try {
                return (SdkPojo) requestType.getMethod("builder").invoke(null);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("SDK request type without builder(): " + requestType, e);
            }
        }

        public Ec2Response invoke(Object request) {
            return handler.handle(requestType.cast(request));
        }
    }

    private final Map<String, Action<?>> actions = new TreeMap<>();

    public <Q extends Ec2Request> ActionRegistry add(Class<Q> requestType, Handler<Q> handler) {
        String simple = requestType.getSimpleName();
        if (!simple.endsWith("Request")) throw new IllegalArgumentException("not an SDK request type: " + requestType);
        String name = simple.substring(0, simple.length() - "Request".length());
        if (actions.putIfAbsent(name, new Action<>(name, requestType, handler)) != null) {
            throw new IllegalStateException("action " + name + " registered twice");
        }
        return this;
    }

    public Optional<Action<?>> find(String name) {
        return Optional.ofNullable(actions.get(name));
    }

    public java.util.Set<String> names() {
        return java.util.Collections.unmodifiableSet(actions.keySet());
    }
}
