package dev.flint.cloud.ec2;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The server side of AWS Signature Version 4 (header form, {@code AWS4-HMAC-SHA256}), as the AWS CLI and
 * SDKs sign EC2 Query requests: rebuild the canonical request from what arrived, derive the signing key
 * from the secret, and compare signatures in constant time. Everything a request could get wrong is an
 * {@code AuthFailure} (or {@code RequestExpired} for a stale date), never an exception that escapes.
 */
public final class SigV4Verifier {
    private static final String ALGORITHM = "AWS4-HMAC-SHA256";
    private static final DateTimeFormatter AMZ_DATE = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'");
    /** AWS accepts a clock difference of 15 minutes either way. */
    static final Duration MAX_SKEW = Duration.ofMinutes(15);

    /** What arrived: method, raw path, raw query string (may be empty), headers by lower-case name, body. */
    public record SignedRequest(String method, String rawPath, String rawQuery, Map<String, String> headers, byte[] body) {}

    private final CloudCredentials credentials;

    public SigV4Verifier(CloudCredentials credentials) {
        this.credentials = credentials;
    }

    /** Whether the request carries any SigV4 authorization at all. */
    public static boolean isSigned(SignedRequest request) {
        return request.headers().containsKey("authorization");
    }

    /** Returns normally when the signature is the one {@link CloudCredentials} would make; throws AuthFailure otherwise. */
    public void verify(SignedRequest request, Instant now) {
        String authorization = request.headers().get("authorization");
        if (authorization == null) throw Ec2Exception.authFailure("AWS was not able to validate the provided access credentials");
        if (!authorization.startsWith(ALGORITHM + " ")) {
            throw Ec2Exception.authFailure("Unsupported authorization scheme; only " + ALGORITHM + " is accepted");
        }
        Map<String, String> parts = authorizationParts(authorization.substring(ALGORITHM.length() + 1));
        String credential = parts.get("Credential");
        String signedHeaders = parts.get("SignedHeaders");
        String signature = parts.get("Signature");
        if (credential == null || signedHeaders == null || signature == null) {
            throw Ec2Exception.authFailure("Authorization header requires Credential, SignedHeaders and Signature");
        }
        String[] scope = credential.split("/", -1);
        if (scope.length != 5 || !scope[4].equals("aws4_request")) {
            throw Ec2Exception.authFailure("Credential should be scoped to a valid region and service (KEY/DATE/REGION/SERVICE/aws4_request)");
        }
        if (!MessageDigest.isEqual(scope[0].getBytes(StandardCharsets.UTF_8), credentials.accessKeyId().getBytes(StandardCharsets.UTF_8))) {
            throw Ec2Exception.authFailure("AWS was not able to validate the provided access credentials");
        }
        if (!scope[3].equals("ec2")) throw Ec2Exception.authFailure("Credential should be scoped to correct service: 'ec2'.");
        String amzDate = request.headers().get("x-amz-date");
        if (amzDate == null) throw Ec2Exception.authFailure("Authorization requires an X-Amz-Date header");
        Instant signedAt;
        try {
            signedAt = LocalDateTime.parse(amzDate, AMZ_DATE).toInstant(ZoneOffset.UTC);
        } catch (DateTimeParseException e) {
            throw Ec2Exception.authFailure("X-Amz-Date is not in the form yyyyMMddTHHmmssZ");
        }
        if (!amzDate.startsWith(scope[1])) throw Ec2Exception.authFailure("Credential date does not match X-Amz-Date");
        if (Duration.between(signedAt, now).abs().compareTo(MAX_SKEW) > 0) {
            throw new Ec2Exception(400, "RequestExpired", "Request has expired: signed at " + amzDate + ", the server's time is " + now);
        }
        List<String> headerNames = List.of(signedHeaders.split(";", -1));
        if (!headerNames.contains("host")) throw Ec2Exception.authFailure("The host header must be signed");
        String canonical = canonicalRequest(request, headerNames, signedHeaders);
        String stringToSign = ALGORITHM + "\n" + amzDate + "\n" + scope[1] + "/" + scope[2] + "/" + scope[3] + "/aws4_request\n"
                + hex(sha256(canonical.getBytes(StandardCharsets.UTF_8)));
        byte[] key = hmac(("AWS4" + credentials.secretAccessKey()).getBytes(StandardCharsets.UTF_8), scope[1]);
        key = hmac(key, scope[2]);
        key = hmac(key, scope[3]);
        key = hmac(key, "aws4_request");
        String expected = hex(hmac(key, stringToSign));
        if (!MessageDigest.isEqual(expected.getBytes(StandardCharsets.US_ASCII), signature.getBytes(StandardCharsets.US_ASCII))) {
            throw Ec2Exception.authFailure("The request signature we calculated does not match the signature you provided. "
                    + "Check your AWS Secret Access Key and signing method.");
        }
    }

    private static Map<String, String> authorizationParts(String rest) {
        Map<String, String> parts = new TreeMap<>();
        for (String part : rest.split(",")) {
            int eq = part.indexOf('=');
            if (eq > 0) parts.put(part.substring(0, eq).strip(), part.substring(eq + 1).strip());
        }
        return parts;
    }

    private static String canonicalRequest(SignedRequest request, List<String> headerNames, String signedHeaders) {
        StringBuilder canonical = new StringBuilder(256);
        canonical.append(request.method()).append('\n');
        canonical.append(request.rawPath().isEmpty() ? "/" : request.rawPath()).append('\n');
        canonical.append(canonicalQuery(request.rawQuery())).append('\n');
        for (String name : headerNames) {
            String value = request.headers().get(name);
            if (value == null) throw Ec2Exception.authFailure("Signed header " + name + " is missing from the request");
            canonical.append(name).append(':').append(value.strip().replaceAll(" +", " ")).append('\n');
        }
        canonical.append('\n').append(signedHeaders).append('\n');
        String payloadHash = request.headers().get("x-amz-content-sha256");
        canonical.append(payloadHash != null && !payloadHash.startsWith("STREAMING-") && !payloadHash.equals("UNSIGNED-PAYLOAD")
                ? payloadHash : hex(sha256(request.body())));
        if (payloadHash != null && !payloadHash.equals(hex(sha256(request.body())))) {
            throw Ec2Exception.authFailure("The provided x-amz-content-sha256 header does not match what was computed.");
        }
        return canonical.toString();
    }

    /** Parameters sorted by encoded name then value, each re-encoded the SigV4 way (RFC 3986 unreserved kept). */
    static String canonicalQuery(String rawQuery) {
        if (rawQuery == null || rawQuery.isEmpty()) return "";
        List<String[]> pairs = new ArrayList<>();
        for (String pair : rawQuery.split("&")) {
            if (pair.isEmpty()) continue;
            int eq = pair.indexOf('=');
            String name = eq < 0 ? pair : pair.substring(0, eq);
            String value = eq < 0 ? "" : pair.substring(eq + 1);
            pairs.add(new String[] {encode(decode(name)), encode(decode(value))});
        }
        pairs.sort((a, b) -> a[0].equals(b[0]) ? a[1].compareTo(b[1]) : a[0].compareTo(b[0]));
        StringBuilder out = new StringBuilder();
        for (String[] pair : pairs) {
            if (!out.isEmpty()) out.append('&');
            out.append(pair[0]).append('=').append(pair[1]);
        }
        return out.toString();
    }

    private static String decode(String s) {
        try {
            return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw Ec2Exception.authFailure("The query string is not validly percent-encoded");
        }
    }

    static String encode(String s) {
        StringBuilder out = new StringBuilder();
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            int c = b & 0xFF;
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~') {
                out.append((char) c);
            } else {
                out.append('%').append(String.format(Locale.ROOT, "%02X", c));
            }
        }
        return out.toString();
    }

    static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }

    static byte[] hmac(byte[] key, String data) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(data.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK has no HmacSHA256", e);
        }
    }

    static String hex(byte[] bytes) {
        return HexFormat.of().formatHex(bytes);
    }
}
