package dev.flint.cloud.console;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import dev.flint.testing.Await;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Who may see and do what in the console, checked over plain HTTP and WebSocket (no browser). */
@Timeout(60)
class ConsoleAccessTest {

    private ConsoleTestServer server;
    private final HttpClient http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).build();

    @BeforeEach
    void start() throws Exception {
        server = new ConsoleTestServer();
    }

    @AfterEach
    void stop() throws Exception {
        server.close();
    }

    @Test
    void aBrowserThatIsNotSignedInGetsOnlyTheSignInPage() throws Exception {
        HttpResponse<String> root = get("/console/", null);
        assertEquals(200, root.statusCode());
        assertTrue(root.body().contains("action=\"/console/signin\""), root.body());
        assertFalse(root.body().contains("<script"), "the sign-in page runs no script");
        assertFalse(root.body().contains("flint-csrf"));

        String script = scriptOfTheApplication();
        HttpResponse<String> index = get("/console/index.html", null);
        assertTrue(index.body().contains("action=\"/console/signin\"") && !index.body().contains("flint-csrf"));
        for (String path : new String[] {script, "/console/metrics/i-0123456789abcdef0", "/console/instances"}) {
            HttpResponse<String> response = get(path, null);
            assertEquals(401, response.statusCode(), path);
            assertTrue(response.body().contains("action=\"/console/signin\""), path);
        }
        // Once signed in, the same script is served.
        assertEquals(200, get(script, signIn()).statusCode());
        // Paths outside /console are the EC2 API's, untouched by the console.
        assertEquals("ec2-api", get("/", null).body());
        assertEquals(303, get("/console", null).statusCode());
    }

    @Test
    void signInSetsAStrictHttpOnlyCookieAndWrongSecretsAreThrottled() throws Exception {
        HttpResponse<String> ok = postForm("/console/signin", "accessKeyId=" + ConsoleTestServer.ACCESS_KEY
                + "&secretAccessKey=" + enc(ConsoleTestServer.SECRET), null);
        assertEquals(303, ok.statusCode());
        String setCookie = ok.headers().firstValue("Set-Cookie").orElseThrow();
        assertTrue(setCookie.contains("HttpOnly"), setCookie);
        assertTrue(setCookie.contains("SameSite=Strict"), setCookie);
        assertTrue(setCookie.contains("Path=/console/"), setCookie);

        for (int n = 0; n < SignInThrottle.FAILURES_PER_WINDOW; n++) {
            HttpResponse<String> wrong = postForm("/console/signin", "accessKeyId=" + ConsoleTestServer.ACCESS_KEY
                    + "&secretAccessKey=guess" + n, null);
            assertEquals(401, wrong.statusCode());
            assertTrue(wrong.body().contains("Wrong access key ID or secret"), wrong.body());
        }
        // Now even the right secret waits: guessing is slowed, whatever the guess.
        HttpResponse<String> throttled = postForm("/console/signin", "accessKeyId=" + ConsoleTestServer.ACCESS_KEY
                + "&secretAccessKey=" + enc(ConsoleTestServer.SECRET), null);
        assertEquals(429, throttled.statusCode());
        assertTrue(throttled.headers().firstValue("Retry-After").isPresent());
        assertTrue(throttled.body().contains("Too many failed sign-ins"));
    }

    @Test
    void theApiRefusesRequestsWithoutTheSessionsCsrfToken() throws Exception {
        String cookie = signIn();
        String csrf = csrfOf(cookie);
        String body = "Action=DescribeInstances&Version=2016-11-15";
        int before = server.ec2.calls().size();

        assertEquals(401, postForm("/console/api", body, null).statusCode(), "no session");
        HttpResponse<String> noToken = postForm("/console/api", body, cookie);
        assertEquals(403, noToken.statusCode());
        assertTrue(noToken.body().contains("CSRF"), noToken.body());
        assertEquals(403, send(apiRequest(body, cookie).header(ConsoleHandler.CSRF_HEADER, "0".repeat(64))).statusCode(),
                "a wrong token");
        assertEquals(403, send(apiRequest(body, cookie).header(ConsoleHandler.CSRF_HEADER, csrf)
                .header("Origin", "http://evil.example")).statusCode(), "another site's page");
        assertEquals(before, server.ec2.calls().size(), "no refused request reached the EC2 handlers");

        HttpResponse<String> ok = send(apiRequest(body, cookie).header(ConsoleHandler.CSRF_HEADER, csrf)
                .header("Origin", server.base()));
        assertEquals(200, ok.statusCode());
        assertTrue(ok.body().contains("<DescribeInstancesResponse"), ok.body());

        HttpResponse<String> unknown = send(apiRequest("Action=CreateVolume&Version=2016-11-15&Size=1", cookie)
                .header(ConsoleHandler.CSRF_HEADER, csrf));
        assertEquals(400, unknown.statusCode());
        assertTrue(unknown.body().contains("<Code>InvalidAction</Code>"), "the EC2 error document comes through as is");

        assertEquals(403, postForm("/console/signout", "", cookie).statusCode(), "sign-out needs the token too");
        HttpResponse<String> signOut = send(HttpRequest.newBuilder(URI.create(server.base() + "/console/signout"))
                .header("Cookie", cookie).header(ConsoleHandler.CSRF_HEADER, csrf).POST(HttpRequest.BodyPublishers.noBody()));
        assertEquals(204, signOut.statusCode());
        assertEquals(401, send(apiRequest(body, cookie).header(ConsoleHandler.CSRF_HEADER, csrf)).statusCode(),
                "the session is gone after sign-out");
    }

    @Test
    void theSerialWebSocketRefusesClientsWithoutASessionOrFromAnotherOrigin() throws Exception {
        String id = runningInstance();
        String cookie = signIn();
        URI uri = URI.create("ws://127.0.0.1:" + server.port() + "/console/ws/serial/" + id);

        assertEquals(401, handshakeStatus(http.newWebSocketBuilder().header("Origin", server.base()), uri));
        assertEquals(403, handshakeStatus(http.newWebSocketBuilder().header("Cookie", cookie)
                .header("Origin", "http://evil.example"), uri));
        assertEquals(403, handshakeStatus(http.newWebSocketBuilder().header("Cookie", cookie), uri),
                "a handshake without Origin did not come from the console's page");
        assertEquals(0, server.serial.openSessions(), "no refused client reached a serial port");
    }

    @Test
    void theSerialWebSocketCarriesKeysToTheGuestAndItsAnswerBack() throws Exception {
        String id = runningInstance();
        String cookie = signIn();
        Collector output = new Collector();
        WebSocket socket = http.newWebSocketBuilder().header("Cookie", cookie).header("Origin", server.base())
                .buildAsync(URI.create("ws://127.0.0.1:" + server.port() + "/console/ws/serial/" + id), output)
                .get(20, TimeUnit.SECONDS);
        output.await("fake-guest$ ");
        socket.sendBinary(ByteBuffer.wrap("echo ws-$((6*7))\r".getBytes(StandardCharsets.US_ASCII)), true).get(5, TimeUnit.SECONDS);
        output.await("ws-42\r\n");
        socket.sendClose(WebSocket.NORMAL_CLOSURE, "bye").get(5, TimeUnit.SECONDS);
        Await.until("closing the browser's socket detaches from the serial port", () -> server.serial.openSessions() == 0);
    }

    @Test
    void anInstanceWithoutASerialPortClosesTheSocketWithAReason() throws Exception {
        String cookie = signIn();
        Collector output = new Collector();
        http.newWebSocketBuilder().header("Cookie", cookie).header("Origin", server.base())
                .buildAsync(URI.create("ws://127.0.0.1:" + server.port() + "/console/ws/serial/i-00000000000000000"), output)
                .get(20, TimeUnit.SECONDS);
        assertEquals(SerialSocket.NO_SERIAL_PORT, output.closeCode.get(20, TimeUnit.SECONDS));
    }

    // --- helpers

    /** Launches an instance in the fake and waits until the fake says it runs. */
    private String runningInstance() throws Exception {
        server.ec2.handle(java.util.Map.of("Action", java.util.List.of("RunInstances"), "Version", java.util.List.of("2016-11-15"),
                "ImageId", java.util.List.of(FakeEc2.IMAGE), "InstanceType", java.util.List.of("t3.micro")));
        String id = server.ec2.instances().getFirst().id;
        Await.until("the fake instance runs", () -> "running".equals(server.ec2.state(id)));
        return id;
    }

    private int handshakeStatus(WebSocket.Builder builder, URI uri) throws Exception {
        CompletableFuture<WebSocket> attempt = builder.buildAsync(uri, new Collector());
        ExecutionException e = assertThrows(ExecutionException.class, () -> attempt.get(20, TimeUnit.SECONDS));
        WebSocketHandshakeException refused = assertInstanceOf(WebSocketHandshakeException.class,
                e.getCause() instanceof CompletionException c ? c.getCause() : e.getCause());
        return refused.getResponse().statusCode();
    }

    private String signIn() throws Exception {
        HttpResponse<String> response = postForm("/console/signin", "accessKeyId=" + ConsoleTestServer.ACCESS_KEY
                + "&secretAccessKey=" + enc(ConsoleTestServer.SECRET), null);
        assertEquals(303, response.statusCode(), response.body());
        String setCookie = response.headers().firstValue("Set-Cookie").orElseThrow();
        return setCookie.substring(0, setCookie.indexOf(';'));
    }

    private String csrfOf(String cookie) throws Exception {
        HttpResponse<String> page = get("/console/", cookie);
        assertEquals(200, page.statusCode());
        Matcher m = Pattern.compile("name=\"flint-csrf\" content=\"([0-9a-f]{64})\"").matcher(page.body());
        assertTrue(m.find(), "the application page carries the session's CSRF token");
        return m.group(1);
    }

    /** The built application's script, as its index.html names it (read from the classpath, not served). */
    private static String scriptOfTheApplication() throws IOException {
        try (var in = ConsoleAccessTest.class.getClassLoader().getResourceAsStream(ConsoleAssets.ROOT + "index.html")) {
            assertNotNull(in, "the front-end build put index.html on the classpath");
            Matcher m = Pattern.compile("src=\"(/console/assets/[^\"]+\\.js)\"").matcher(new String(in.readAllBytes(), StandardCharsets.UTF_8));
            assertTrue(m.find());
            return m.group(1);
        }
    }

    private HttpResponse<String> get(String path, String cookie) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(server.base() + path)).GET();
        if (cookie != null) {
            request.header("Cookie", cookie);
        }
        return send(request);
    }

    private HttpRequest.Builder apiRequest(String body, String cookie) {
        return HttpRequest.newBuilder(URI.create(server.base() + "/console/api"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("Cookie", cookie)
                .POST(HttpRequest.BodyPublishers.ofString(body));
    }

    private HttpResponse<String> postForm(String path, String body, String cookie) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(server.base() + path))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (cookie != null) {
            request.header("Cookie", cookie);
        }
        return send(request);
    }

    private HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
        return http.send(request.timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    /** Collects what the server sends as text, and the close code. */
    private static final class Collector implements WebSocket.Listener {
        private final StringBuilder received = new StringBuilder();
        final CompletableFuture<Integer> closeCode = new CompletableFuture<>();

        @Override
        public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
            byte[] bytes = new byte[data.remaining()];
            data.get(bytes);
            synchronized (this) {
                received.append(new String(bytes, StandardCharsets.UTF_8));
                notifyAll();
            }
            webSocket.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
            closeCode.complete(statusCode);
            return null;
        }

        @Override
        public void onError(WebSocket webSocket, Throwable error) {
            closeCode.completeExceptionally(error);
        }

        synchronized void await(String text) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (received.indexOf(text) < 0) {
                long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                assertTrue(left > 0, "never received " + text + "; got: " + received);
                wait(left);
            }
        }
    }
}
