package dev.flint.cloud;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The wire format as a hostile or sloppy client meets it: raw HTTP, no SDK. Unsigned requests are refused
 * unless the daemon trusts local callers (this one does, for the protocol checks; a second one does not),
 * and every bad request gets EC2's error XML while the daemon keeps serving.
 */
class Ec2ProtocolTest {
    @TempDir
    static Path temp;
    static CloudHarness trusting;
    static CloudHarness strict;
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    @BeforeAll
    static void start() throws Exception {
        trusting = CloudHarness.start(temp.resolve("trusting"), 8192, true, List.of());
        strict = CloudHarness.start(temp.resolve("strict"), 8192, false, List.of());
    }

    @AfterAll
    static void stop() {
        if (trusting != null) trusting.close();
        if (strict != null) strict.close();
    }

    static HttpResponse<String> post(CloudHarness cloud, String body) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(cloud.daemon.endpoint() + "/"))
                .header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    static void assertError(HttpResponse<String> response, int status, String code) {
        assertEquals(status, response.statusCode(), response.body());
        assertTrue(response.body().contains("<Response><Errors><Error><Code>" + code + "</Code><Message>"), response.body());
        assertTrue(response.body().matches("(?s).*<RequestID>[0-9a-f-]{36}</RequestID></Response>"), response.body());
    }

    @Test
    void unsignedIsAuthFailureUnlessTrusted() throws Exception {
        assertError(post(strict, "Action=DescribeRegions&Version=2016-11-15"), 401, "AuthFailure");
        HttpResponse<String> ok = post(trusting, "Action=DescribeRegions&Version=2016-11-15");
        assertEquals(200, ok.statusCode(), ok.body());
        assertTrue(ok.body().contains("<DescribeRegionsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>"), ok.body());
        assertTrue(ok.body().matches("(?s).*<regionInfo><item>.*<regionName>flint-local</regionName>.*</item></regionInfo>.*"), ok.body());
    }

    @Test
    void badSignaturesAreAuthFailure() throws Exception {
        String[] authorizations = {
            "AWS4-HMAC-SHA256 Credential=AKIAXXXXXXXXXXXXXXXX/20260101/flint-local/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
            "AWS4-HMAC-SHA256 garbage",
            "Basic dXNlcjpwYXNz",
            "AWS4-HMAC-SHA256 Credential=" + trusting.daemon.credentials().accessKeyId() + "/x, SignedHeaders=host, Signature=ab",
        };
        for (String authorization : authorizations) {
            HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(trusting.daemon.endpoint() + "/"))
                    .header("Content-Type", "application/x-www-form-urlencoded").header("Authorization", authorization)
                    .header("X-Amz-Date", "20260101T000000Z")
                    .POST(HttpRequest.BodyPublishers.ofString("Action=DescribeRegions&Version=2016-11-15")).build(), HttpResponse.BodyHandlers.ofString());
            assertError(r, 401, "AuthFailure");
        }
    }

    @Test
    void actionsAndParameters() throws Exception {
        assertError(post(trusting, "Action=LaunchRockets&Version=2016-11-15"), 400, "InvalidAction");
        assertError(post(trusting, "Action=CreateVpc&Version=2016-11-15&CidrBlock=10.0.0.0/16"), 400, "InvalidAction");
        assertError(post(trusting, "Version=2016-11-15"), 400, "MissingAction");
        assertError(post(trusting, "Action=DescribeInstances&Version=2016-11-15&Bogus=1"), 400, "UnknownParameter");
        assertError(post(trusting, "Action=DescribeInstances&Version=2016-11-15&MaxResults=lots"), 400, "InvalidParameterValue");
        assertError(post(trusting, "Action=DescribeInstances&Version=2016-11-15&DryRun=maybe"), 400, "InvalidParameterValue");
        assertError(post(trusting, "Action=DescribeInstances&Version=2016-11-15&DryRun=true"), 412, "DryRunOperation");
        assertError(post(trusting, "Action=DescribeInstances&Version=2016-11-15&InstanceId.99999999=i-1"), 400, "UnknownParameter");
        assertError(post(trusting, "Action=DescribeInstances&Version=2016-11-15&Filter.1.Value.1=x"), 400, "MissingParameter");
        assertError(post(trusting, "Action=Describe%ZZInstances"), 400, "MalformedQueryString");
        // Names with XML in them come back escaped, not as markup.
        HttpResponse<String> escaped = post(trusting, "Action=DescribeKeyPairs&Version=2016-11-15&KeyName.1=%3Cx%3E%26");
        assertError(escaped, 400, "InvalidKeyPair.NotFound");
        assertTrue(escaped.body().contains("&lt;x&gt;&amp;"), escaped.body());
        // Lists decode from their numbered members, gaps and all; GET with a query string works too.
        HttpResponse<String> get = HTTP.send(HttpRequest.newBuilder(URI.create(trusting.daemon.endpoint()
                + "/?Action=DescribeAvailabilityZones&Version=2016-11-15&Filter.1.Name=zone-name&Filter.1.Value.3=flint-local*")).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, get.statusCode(), get.body());
        assertTrue(get.body().contains("<availabilityZoneInfo><item>"), get.body());
    }

    @Test
    void theConsoleRunsTheSameHandlersWithoutSigV4() {
        var endpoint = strict.daemon.consoleEc2Endpoint();
        var regions = endpoint.handle(java.util.Map.of("Action", List.of("DescribeRegions"), "Version", List.of("2016-11-15")));
        assertEquals(200, regions.status());
        assertTrue(regions.xml().contains("<regionName>flint-local</regionName>"), regions.xml());
        var missing = endpoint.handle(java.util.Map.of("Action", List.of("DescribeInstances"), "InstanceId.1", List.of("i-0123456789abcdef0")));
        assertEquals(400, missing.status());
        assertTrue(missing.xml().contains("<Code>InvalidInstanceID.NotFound</Code>"), missing.xml());
        assertTrue(strict.daemon.consoleCredentials().accepts(strict.daemon.credentials().accessKeyId(), strict.daemon.credentials().secretAccessKey()));
        assertTrue(!strict.daemon.consoleCredentials().accepts(strict.daemon.credentials().accessKeyId(), "wrong"));
    }

    @Test
    void garbageAndOversizedBodies() throws Exception {
        Random random = new Random(42);
        for (int i = 0; i < 200; i++) {
            byte[] junk = new byte[random.nextInt(2000)];
            random.nextBytes(junk);
            HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(trusting.daemon.endpoint() + "/"))
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(junk)).build(), HttpResponse.BodyHandlers.ofString());
            assertTrue(r.statusCode() >= 400 && r.statusCode() < 500, r.statusCode() + ": " + r.body());
            assertTrue(r.body().contains("<Response><Errors><Error><Code>"), r.body());
        }
        // Random but well-formed parameter soup for a real action.
        for (int i = 0; i < 200; i++) {
            StringBuilder body = new StringBuilder("Action=RunInstances&Version=2016-11-15");
            String[] names = {"ImageId", "MinCount", "MaxCount", "UserData", "InstanceType", "TagSpecification.1.Tag.1.Key",
                "BlockDeviceMapping.1.Ebs.VolumeSize", "MetadataOptions.HttpTokens", "ClientToken", "KeyName"};
            for (int n = random.nextInt(6); n > 0; n--) {
                body.append('&').append(names[random.nextInt(names.length)]).append('=').append(random.nextInt(3) == 0 ? "-1" : "x" + random.nextInt(9));
            }
            HttpResponse<String> r = post(trusting, body.toString());
            assertTrue(r.statusCode() >= 400 && r.statusCode() < 500, body + " -> " + r.statusCode() + ": " + r.body());
        }
        HttpResponse<String> big = post(trusting, "Action=DescribeRegions&Version=2016-11-15&X=" + "a".repeat(2 << 20));
        assertError(big, 413, "RequestEntityTooLarge");
        HttpResponse<String> wrongType = HTTP.send(HttpRequest.newBuilder(URI.create(trusting.daemon.endpoint() + "/"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString("{\"Action\":\"DescribeRegions\"}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertError(wrongType, 400, "InvalidParameterValue");
        // Still serving.
        assertEquals(200, post(trusting, "Action=DescribeRegions&Version=2016-11-15").statusCode());
    }
}
