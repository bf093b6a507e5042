package dev.flint.cloud.ec2;

import dev.flint.cloud.actions.ActionRegistry;
import dev.flint.cloud.store.CloudStore;
import java.net.InetAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.logging.Level;
import java.util.logging.Logger;
import software.amazon.awssdk.core.SdkField;
import software.amazon.awssdk.core.SdkPojo;

/**
 * One EC2 Query request, from bytes to answer: authenticate (SigV4, or trust an unsigned loopback caller when
 * started with {@code --trust-local}), read the form, find the action, decode it with {@link QueryDecoder},
 * honour {@code DryRun}, run the handler, encode with {@link XmlEncoder}. Whatever goes wrong becomes EC2's
 * error XML with its status; nothing a client sends escapes as an exception.
 */
public final class Ec2Api {
    private static final Logger LOG = Logger.getLogger(Ec2Api.class.getName());

    /** An HTTP answer: status and XML body. */
    public record Answer(int status, String body) {}

    private final ActionRegistry actions;
    private final SigV4Verifier verifier;
    private final boolean trustLocal;
    private final Clock clock;

    public Ec2Api(ActionRegistry actions, CloudCredentials credentials, boolean trustLocal, Clock clock) {
        this.actions = actions;
        this.verifier = new SigV4Verifier(credentials);
        this.trustLocal = trustLocal;
        this.clock = clock;
    }

    public Answer handle(SigV4Verifier.SignedRequest request, InetAddress remote) {
        String requestId = UUID.randomUUID().toString();
        try {
            authenticate(request, remote);
            return run(params(request), requestId);
        } catch (Ec2Exception e) {
            return new Answer(e.status(), XmlEncoder.error(e.code(), e.getMessage(), requestId));
        }
    }

    /**
     * Runs a request whose caller was authenticated some other way (the web console's session): the same
     * decoding, handlers and XML as a signed request. The first value of each parameter counts.
     */
    public Answer handlePreauthenticated(Map<String, List<String>> form) {
        Map<String, String> params = new LinkedHashMap<>();
        form.forEach((name, values) -> {
            if (values != null && !values.isEmpty()) params.put(name, values.getFirst());
        });
        return run(params, UUID.randomUUID().toString());
    }

    private Answer run(Map<String, String> params, String requestId) {
        try {
            String action = params.get("Action");
            if (action == null || action.isEmpty()) throw Ec2Exception.client("MissingAction", "The request must contain the parameter Action");
            ActionRegistry.Action<?> found = actions.find(action).orElseThrow(() -> Ec2Exception.client("InvalidAction",
                    "The action " + QueryDecoder.clip(action) + " is not valid for this web service."));
            Object decoded = QueryDecoder.decode(found.newRequestBuilder(), params);
            if (isDryRun((SdkPojo) decoded)) throw Ec2Exception.dryRun();
            SdkPojo response = found.invoke(decoded);
            return new Answer(200, XmlEncoder.response(action, requestId, response));
        } catch (Ec2Exception e) {
            return new Answer(e.status(), XmlEncoder.error(e.code(), e.getMessage(), requestId));
        } catch (CloudStore.StoreFailure e) {
            LOG.log(Level.WARNING, "request " + requestId + ": store failure", e);
            return new Answer(503, XmlEncoder.error("Unavailable", "The store is not available: " + e.getMessage(), requestId));
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "request " + requestId + " failed inside Flint", e);
            return new Answer(500, XmlEncoder.error("InternalError", "An internal error has occurred (" + e.getClass().getSimpleName() + ")", requestId));
        }
    }

    private void authenticate(SigV4Verifier.SignedRequest request, InetAddress remote) {
        if (SigV4Verifier.isSigned(request)) {
            verifier.verify(request, clock.instant());
        } else if (!trustLocal || remote == null || !remote.isLoopbackAddress()) {
            throw Ec2Exception.authFailure("The request is not signed. Sign it with SigV4 (the credentials 'flint cloud env' prints)"
                    + (trustLocal ? "; unsigned requests are trusted only from loopback addresses" : ""));
        }
    }

    private static boolean isDryRun(SdkPojo request) {
        for (SdkField<?> field : request.sdkFields()) {
            if (field.memberName().equals("DryRun")) return Boolean.TRUE.equals(field.getValueOrDefault(request));
        }
        return false;
    }

    /** The query string's parameters, then the form body's (EC2 accepts both, GET and POST). */
    static Map<String, String> params(SigV4Verifier.SignedRequest request) {
        Map<String, String> params = new LinkedHashMap<>();
        parseInto(params, request.rawQuery());
        String type = request.headers().getOrDefault("content-type", "");
        if (request.body().length > 0) {
            if (!type.isEmpty() && !type.toLowerCase(java.util.Locale.ROOT).startsWith("application/x-www-form-urlencoded")) {
                throw Ec2Exception.client("InvalidParameterValue", "The body must be application/x-www-form-urlencoded, not " + QueryDecoder.clip(type));
            }
            parseInto(params, new String(request.body(), StandardCharsets.UTF_8));
        }
        return params;
    }

    private static void parseInto(Map<String, String> params, String form) {
        if (form == null || form.isEmpty()) return;
        for (String pair : form.split("&")) {
            if (pair.isEmpty()) continue;
            int eq = pair.indexOf('=');
            String name = decode(eq < 0 ? pair : pair.substring(0, eq));
            String value = eq < 0 ? "" : decode(pair.substring(eq + 1));
            params.putIfAbsent(name, value);
        }
    }

    private static String decode(String s) {
        try {
            return URLDecoder.decode(s, StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw Ec2Exception.client("MalformedQueryString", "The request is not validly form-encoded: " + QueryDecoder.clip(s));
        }
    }
}
