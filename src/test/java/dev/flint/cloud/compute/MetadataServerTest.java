package dev.flint.cloud.compute;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.flint.cloud.compute.MetadataSource.InstanceMetadata;
import dev.flint.cloud.compute.MetadataSource.PublicKey;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The metadata service's protocol on loopback (the caller is 127.0.0.1, which the fake source maps to
 * whichever instance the test sets): IMDSv2 tokens, IMDSv1 with and without required tokens, tokens bound
 * to their instance, the listings and leaves a guest reads.
 */
class MetadataServerTest {
    private static final InstanceMetadata A = instance("i-0aaaaaaaaaaaaaaa1", "172.31.0.5", false, "#!/bin/sh\necho a\n");
    private static final InstanceMetadata B = instance("i-0bbbbbbbbbbbbbbb2", "172.31.0.6", true, "");

    private final AtomicReference<InstanceMetadata> caller = new AtomicReference<>(A);
    private final MetadataServer server;
    private final HttpClient http = HttpClient.newHttpClient();

    MetadataServerTest() throws Exception {
        server = MetadataServer.start(ip -> ip.equals("127.0.0.1") ? Optional.ofNullable(caller.get()) : Optional.empty(),
                "127.0.0.1", 0);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private static InstanceMetadata instance(String id, String ip, boolean tokensRequired, String userData) {
        return new InstanceMetadata(id, "t3.micro", "ami-0123456789abcdef0", ip, "ip-" + ip.replace('.', '-') + ".ec2.internal",
                "flint-1a", "06:00:ac:1f:00:05", List.of(new PublicKey("laptop", "ssh-ed25519 AAAAC3Nza laptop\n")),
                userData.getBytes(StandardCharsets.UTF_8), tokensRequired);
    }

    private HttpResponse<String> get(String path, String token) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path));
        if (token != null) b.header("X-aws-ec2-metadata-token", token);
        return http.send(b.GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> token(String ttl) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/latest/api/token"))
                .PUT(HttpRequest.BodyPublishers.noBody());
        if (ttl != null) b.header("X-aws-ec2-metadata-token-ttl-seconds", ttl);
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void imdsV2TokenThenReads() throws Exception {
        HttpResponse<String> t = token("60");
        assertEquals(200, t.statusCode());
        assertEquals("60", t.headers().firstValue("X-aws-ec2-metadata-token-ttl-seconds").orElse(""));
        String token = t.body();
        assertEquals("i-0aaaaaaaaaaaaaaa1", get("/latest/meta-data/instance-id", token).body());
        assertEquals("172.31.0.5", get("/latest/meta-data/local-ipv4", token).body());
        assertEquals("flint-1a", get("/latest/meta-data/placement/availability-zone", token).body());
        assertEquals("0=laptop", get("/latest/meta-data/public-keys/", token).body());
        assertEquals("openssh-key", get("/latest/meta-data/public-keys/0/", token).body());
        assertEquals("ssh-ed25519 AAAAC3Nza laptop\n", get("/latest/meta-data/public-keys/0/openssh-key", token).body());
        assertEquals("#!/bin/sh\necho a\n", get("/latest/user-data", token).body());
        assertEquals("ami-id\nhostname\ninstance-id\ninstance-type\nlocal-hostname\nlocal-ipv4\nmac\nplacement/\npublic-keys/",
                get("/latest/meta-data/", token).body());
        assertEquals(404, get("/latest/meta-data/public-keys/1/openssh-key", token).statusCode());
        assertEquals(404, get("/latest/meta-data/iam/", token).statusCode());
        assertEquals(401, get("/latest/meta-data/instance-id", "not-a-token").statusCode());
    }

    @Test
    void tokenRequestsNeedAValidTtl() throws Exception {
        assertEquals(400, token(null).statusCode());
        assertEquals(400, token("0").statusCode());
        assertEquals(400, token("21601").statusCode());
        assertEquals(400, token("soon").statusCode());
        assertEquals(405, get("/latest/api/token", null).statusCode());
    }

    @Test
    void imdsV1OnlyWhenTokensAreOptional() throws Exception {
        assertEquals("i-0aaaaaaaaaaaaaaa1", get("/latest/meta-data/instance-id", null).body());
        caller.set(B);
        assertEquals(401, get("/latest/meta-data/instance-id", null).statusCode());
        String token = token("60").body();
        assertEquals("i-0bbbbbbbbbbbbbbb2", get("/latest/meta-data/instance-id", token).body());
        assertEquals(404, get("/latest/user-data", token).statusCode(), "no user-data: 404, as on EC2");
    }

    @Test
    void aTokenIsBoundToTheInstanceThatGotIt() throws Exception {
        String tokenOfA = token("60").body();
        caller.set(B);
        assertEquals(401, get("/latest/meta-data/instance-id", tokenOfA).statusCode());
        caller.set(null);
        assertEquals(404, get("/latest/meta-data/instance-id", tokenOfA).statusCode(), "unknown callers learn nothing");
    }

    @Test
    void garbageAndHalfRequestsLeaveTheServiceAnswering() throws Exception {
        try (java.net.Socket garbage = new java.net.Socket("127.0.0.1", server.port());
             java.net.Socket half = new java.net.Socket("127.0.0.1", server.port())) {
            garbage.getOutputStream().write(new byte[] {0, 1, 2, (byte) 0xff, '\r', '\n', '\r', '\n'});
            garbage.getOutputStream().flush();
            half.getOutputStream().write("GET /latest/meta-data/ HTTP/1.1\r\nHost: x\r\nX-Long: ".getBytes(StandardCharsets.US_ASCII));
            half.getOutputStream().flush();
            assertEquals("i-0aaaaaaaaaaaaaaa1", get("/latest/meta-data/instance-id", null).body());
        }
        // A body the server reads and discards (it drains up to 64 KiB) still gets its answer.
        assertEquals(400, badTokenRequest(32 << 10).statusCode());
        // Past that the server answers and closes without reading on; the client, still sending, may see
        // the 400 or only the closed connection. Either way the service goes on answering.
        try {
            assertEquals(400, badTokenRequest(1 << 20).statusCode());
        } catch (java.io.IOException cut) {
            // the connection was closed under the client's unsent body
        }
        assertEquals("i-0aaaaaaaaaaaaaaa1", get("/latest/meta-data/instance-id", null).body());
    }

    private HttpResponse<String> badTokenRequest(int bodyBytes) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/latest/api/token"))
                .PUT(HttpRequest.BodyPublishers.ofByteArray(new byte[bodyBytes]))
                .header("X-aws-ec2-metadata-token-ttl-seconds", "-5").build(), HttpResponse.BodyHandlers.ofString());
    }
}
