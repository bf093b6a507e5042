package dev.flint.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.eclipse.jetty.client.InputStreamRequestContent;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.io.Transport;
import org.junit.jupiter.api.Test;

/** The HTTP side: the socket file, body limits, paths outside the API, concurrency, spec coverage. */
class ApiServerTest extends ApiTestBase {
    private void assertStillServing() throws Exception {
        assertEquals(200, api.client.get("/").status());
    }

    @Test
    void oneMebibyteBodyIsRefusedWithoutBufferingAndTheServerKeepsAnswering() throws Exception {
        String huge = "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"cpu_template\": \"" + "x".repeat(1 << 20) + "\"}";
        var reply = api.client.sendRaw("PUT", "/machine-config", huge);
        assertEquals(400, reply.status());
        assertTrue(reply.fault().contains("larger than the limit of 51200"), reply.fault());
        assertStillServing();
    }

    @Test
    void oversizedChunkedBodyIsCutAtTheLimit() throws Exception {
        // No Content-Length: the server must stop reading at the limit, not at the end of the stream.
        InputStream endless = new InputStream() {
            @Override
            public int read() { return ' '; }

            @Override
            public int read(byte[] b, int off, int len) {
                java.util.Arrays.fill(b, off, off + len, (byte) ' ');
                return len;
            }
        };
        HttpClient http = new HttpClient();
        http.start();
        try {
            var response = http.newRequest("http://localhost/machine-config").transport(new Transport.TCPUnix(api.socket))
                    .method("PUT").body(new InputStreamRequestContent("application/json", endless))
                    .timeout(10, TimeUnit.SECONDS).send();
            assertEquals(400, response.getStatus());
            assertTrue(response.getContentAsString().contains("larger than the limit"), response.getContentAsString());
        } catch (java.util.concurrent.ExecutionException e) {
            // Also acceptable: the server answered and closed the connection while the client was still sending.
            assertTrue(e.getCause() instanceof IOException, e.toString());
        } finally {
            http.stop();
        }
        assertStillServing();
    }

    @Test
    void aChunkedBodyOverTheLimitIsNamedAsSuch() throws Exception {
        String chunk = " ".repeat(60_000);
        String request = "PUT /machine-config HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                + Integer.toHexString(chunk.length()) + "\r\n" + chunk + "\r\n0\r\n\r\n";
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(api.socket))) {
            ch.write(ByteBuffer.wrap(request.getBytes(StandardCharsets.US_ASCII)));
            ch.shutdownOutput();
            String answer = new String(Channels.newInputStream(ch).readAllBytes(), StandardCharsets.US_ASCII);
            assertTrue(answer.startsWith("HTTP/1.1 400") && answer.contains("is larger than the limit of 51200"), answer);
        }
        assertStillServing();
    }

    @Test
    void aSmallerConfiguredLimitApplies() throws Exception {
        try (ApiFixture small = new ApiFixture(Files.createDirectory(dir.resolve("small")), 32)) {
            var reply = small.client.sendRaw("PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 128}");
            assertEquals(400, reply.status());
            assertTrue(reply.fault().contains("limit of 32"), reply.fault());
            assertEquals(204, small.client.sendRaw("PATCH", "/machine-config", "{\"vcpu_count\": 2}").status());
        }
    }

    @Test
    void unknownPathsAndWrongMethodsAreRefusedWithAFault() throws Exception {
        var unknown = api.client.get("/no/such/thing");
        assertEquals(400, unknown.status());
        assertEquals("Invalid request method and/or path: GET /no/such/thing.", unknown.fault());
        assertEquals(400, api.client.sendRaw("DELETE", "/machine-config", null).status());
        assertTrue(api.client.sendRaw("POST", "/actions", "{}").fault().contains("Invalid request method"));
        assertTrue(api.client.get("/actions").fault().contains("Invalid request method"));
        assertTrue(api.client.sendRaw("PUT", "/drives/", "{}").fault().contains("Invalid request method"));
        assertTrue(api.client.sendRaw("PUT", "/drives/a/b", "{}").fault().contains("Invalid request method"));
        var badId = api.client.sendRaw("PUT", "/drives/bad%20id", "{\"drive_id\": \"bad id\", \"is_root_device\": false}");
        assertEquals(400, badId.status());
        assertStillServing();
    }

    @Test
    void everyOperationOfTheSpecIsEitherServedOrRefusedAsUnsupported() throws Exception {
        Set<String> specOperations = specOperations();
        Set<String> expected = new java.util.TreeSet<>(specOperations);
        for (String extension : ApiRoutes.FLINT_EXTENSIONS) {
            assertTrue(expected.add(extension), extension + " is in the spec now: it is no extension");
        }
        assertEquals(expected, ApiRoutes.knownOperations(),
                "the route table must list exactly the operations of firecracker-api.yaml, and Flint's extensions");
        for (String op : List.of("GET /balloon/hinting/status",
                "PUT /cpu-config", "PUT /pmem/{id}", "GET /hotplug/memory")) {
            String[] parts = op.split(" ");
            var reply = api.client.sendRaw(parts[0], parts[1].replace("{id}", "pmem0"), "{}");
            assertEquals(400, reply.status(), op);
            assertTrue(reply.fault().contains("not supported by Flint"), op + ": " + reply.fault());
        }
        assertEquals(0, api.backend.calls().size());
    }

    /** (method, path) pairs of the spec, read from its "paths:" section. */
    private static Set<String> specOperations() throws IOException {
        Set<String> ops = new TreeSet<>();
        Pattern path = Pattern.compile("^  (/[^:]*):\\s*$");
        Pattern method = Pattern.compile("^    (get|put|patch|post|delete):\\s*$");
        String current = null;
        for (String line : Files.readAllLines(Path.of("src/main/resources/firecracker-api.yaml"))) {
            if (line.startsWith("definitions:")) break;
            Matcher p = path.matcher(line);
            Matcher m = method.matcher(line);
            if (p.matches()) current = p.group(1).replaceAll("\\{[a-z_]+}", "{id}");
            else if (m.matches() && current != null) ops.add(m.group(1).toUpperCase() + " " + current);
        }
        assertTrue(ops.size() > 30, "parsed too few operations: " + ops);
        return ops;
    }

    @Test
    void fiftyConcurrentGetsAllSucceed() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(50);
        try {
            List<Callable<Integer>> gets = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                String path = List.of("/", "/machine-config", "/vm/config", "/version").get(i % 4);
                gets.add(() -> api.client.get(path).status());
            }
            for (Future<Integer> status : pool.invokeAll(gets, 30, TimeUnit.SECONDS)) {
                assertEquals(200, status.get());
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(13, api.vmm.metrics().get("get_api_requests.instance_info_count"));
    }

    @Test
    void malformedHttpGetsAFaultAndTheServerSurvives() throws Exception {
        try (SocketChannel raw = SocketChannel.open(UnixDomainSocketAddress.of(api.socket))) {
            raw.write(ByteBuffer.wrap("GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n".getBytes(StandardCharsets.US_ASCII)));
            ByteBuffer answer = ByteBuffer.allocate(4096);
            raw.read(answer);
            String text = new String(answer.array(), 0, answer.position(), StandardCharsets.US_ASCII);
            assertTrue(text.startsWith("HTTP/1.1 400"), text);
            assertTrue(text.contains("{\"fault_message\":"), text);
        }
        assertStillServing();
    }

    @Test
    void aStaleSocketFileIsReplacedAndALiveOneIsRefused() throws Exception {
        Path stale = dir.resolve("stale.sock");
        try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            dead.bind(UnixDomainSocketAddress.of(stale));
        }   // closed: the file stays, nobody listens
        assertTrue(Files.exists(stale));
        try (ApiServer server = ApiServer.start(stale, api.vmm, 1024);
             UnixSocketClient client = new UnixSocketClient(stale)) {
            assertEquals(server.socket(), stale);
            assertEquals(200, client.get("/").status());
        }

        IOException refused = assertThrows(IOException.class, () -> ApiServer.start(api.socket, api.vmm, 1024));
        assertTrue(refused.getMessage().contains("in use by another process"), refused.getMessage());
        assertStillServing();
    }

    @Test
    void theSocketIsBoundAsideAndMovedIntoPlaceSoItsFileMeansItListens() throws Exception {
        Path own = Files.createDirectory(dir.resolve("own"));
        Path socket = own.resolve("api.sock");
        Path aside = ApiServer.bindingPath(socket);
        assertEquals(own, aside.getParent());
        assertTrue(aside.getFileName().toString().startsWith(".api.sock."), aside.toString());
        try (ApiServer server = ApiServer.start(socket, api.vmm, 1024);
             UnixSocketClient client = new UnixSocketClient(socket)) {
            assertEquals(200, client.get("/").status());
            try (var files = Files.list(own)) {
                assertEquals(java.util.List.of(socket), files.toList(), "only the socket, nothing left aside");
            }
        }
        assertTrue(Files.notExists(socket), "removed on close");
        // A name too long to hold the temporary suffix is bound in place.
        Path deep = Files.createDirectories(own.resolve("d".repeat(Math.max(1, 100 - own.toString().length()))));
        Path longSocket = deep.resolve("s.sock");
        if (longSocket.toString().length() <= 107) assertEquals(longSocket, ApiServer.bindingPath(longSocket));
    }
}
