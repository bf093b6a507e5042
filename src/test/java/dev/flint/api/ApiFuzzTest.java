package dev.flint.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The API as a hostile client meets it: thousands of random and mutated requests over the Unix socket
 * (valid paths with mutated bodies, wrong methods, garbage bytes, truncated requests, lying
 * Content-Length). The server must never answer 5xx, never leave a connection hanging, answer every
 * refusal with a {@code fault_message}, and still serve {@code GET /} afterwards. The seed is printed and
 * can be replayed with {@code -Dflint.api.fuzz.seed=N}; {@code -Dflint.api.fuzz.requests=N} sets the count.
 */
class ApiFuzzTest extends ApiTestBase {
    private static final Logger LOG = Logger.getLogger(ApiFuzzTest.class.getName());
    private static final Pattern STATUS_LINE = Pattern.compile("HTTP/1\\.1 (\\d{3}) ");
    /** How long one exchange may take before it counts as a hang (the machine may be loaded). */
    private static final Duration EXCHANGE_LIMIT = Duration.ofSeconds(20);

    /** Routes whose bodies are mutated, with one valid body each. Logger, metrics and serial are left out:
     *  their bodies name host files to open, and a mutated name could be any path. */
    private Map<String, String> validBodies() {
        Map<String, String> bodies = new TreeMap<>();
        bodies.put("PUT /machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"smt\": false}");
        bodies.put("PATCH /machine-config", "{\"vcpu_count\": 1}");
        bodies.put("PUT /boot-source", "{\"kernel_image_path\": \"" + api.kernel + "\", \"boot_args\": \"console=ttyS0\"}");
        bodies.put("PUT /drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"" + api.kernel
                + "\", \"is_root_device\": true, \"is_read_only\": true}");
        bodies.put("PATCH /drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"" + api.kernel + "\"}");
        bodies.put("PUT /network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
                + "\"guest_mac\": \"06:00:ac:10:00:02\", \"mtu\": 1500}");
        bodies.put("PUT /entropy", "{\"rate_limiter\": {\"bandwidth\": {\"size\": 1000, \"refill_time\": 100}}}");
        bodies.put("PUT /actions", "{\"action_type\": \"FlushMetrics\"}");
        bodies.put("PATCH /vm", "{\"state\": \"Paused\"}");
        bodies.put("PUT /mmds", "{\"latest\": {\"meta-data\": {\"ami-id\": \"ami-1\", \"n\": [1, 2.5, null, true]}}}");
        bodies.put("PATCH /mmds", "{\"latest\": {\"meta-data\": {\"ami-id\": null}}}");
        bodies.put("PUT /mmds/config", "{\"version\": \"V2\", \"network_interfaces\": [\"eth0\"], "
                + "\"ipv4_address\": \"169.254.170.2\", \"imds_compat\": true}");
        bodies.put("PUT /vsock", "{\"guest_cid\": 3, \"uds_path\": \"/nonexistent/v.sock\"}");
        bodies.put("PUT /balloon", "{\"amount_mib\": 1, \"deflate_on_oom\": true}");
        return bodies;
    }

    private static final List<String> METHODS = List.of("GET", "PUT", "PATCH", "POST", "DELETE", "HEAD", "OPTIONS",
            "TRACE", "CONNECT", "BREW", "get", "P\u00fcT", "", "GET GET", "PUT\t");
    private static final List<String> PATHS = List.of("/", "/version", "/machine-config", "/vm/config", "/boot-source",
            "/drives/rootfs", "/drives/", "/drives/a/b", "/network-interfaces/eth0", "/entropy", "/actions", "/vm",
            "/mmds", "/mmds/config", "/vsock", "/balloon", "/balloon/statistics", "/snapshot/create", "/logger",
            "/metrics", "/serial", "//", "/../../etc/passwd", "/%00", "/%zz", "*", "", "/" + "x".repeat(9000),
            "/drives/%2e%2e", "/mmds?x=1", "/machine-config#frag", "http://localhost/", "/\u00e9");

    @Test
    void thousandsOfHostileRequestsNeverGetA5xxOrAHang() throws Exception {
        long seed = Long.getLong("flint.api.fuzz.seed", System.nanoTime());
        int requests = Integer.getInteger("flint.api.fuzz.requests", 3000);
        Map<String, String> bodies = validBodies();
        List<String> routes = new ArrayList<>(bodies.keySet());
        Map<String, AtomicLong> counts = new ConcurrentHashMap<>();
        int threads = 4;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            assertTimeoutPreemptively(Duration.ofMinutes(5), () -> {
                List<Future<?>> workers = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    Random random = new Random(seed + t);
                    int share = requests / threads;
                    workers.add(pool.submit(() -> {
                        for (int i = 0; i < share; i++) {
                            Case c = next(random, bodies, routes);
                            counts.computeIfAbsent(c.kind(), k -> new AtomicLong()).incrementAndGet();
                            exchangeAndCheck(c, seed, counts);
                        }
                        return null;
                    }));
                }
                for (Future<?> w : workers) w.get();
            }, "the fuzz run took too long (seed " + seed + ")");
        } finally {
            pool.shutdownNow();
        }
        LOG.info("API fuzz (seed " + seed + "): " + new TreeMap<>(counts));
        assertEquals(200, api.client.get("/").status(), "GET / after the fuzz run (seed " + seed + ")");
    }

    /**
     * Forty clients that each send half a request body and then stall must not keep anyone else waiting:
     * the body is read without holding a thread.
     */
    @Test
    void stalledClientsDoNotHoldUpOthers() throws Exception {
        List<SocketChannel> stalled = new ArrayList<>();
        try {
            for (int i = 0; i < 40; i++) {
                SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(api.socket));
                ch.write(ByteBuffer.wrap(("PUT /machine-config HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n"
                        + "{\"vcpu_count\": ").getBytes(StandardCharsets.US_ASCII)));
                stalled.add(ch);
            }
            assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
                for (int i = 0; i < 20; i++) assertEquals(200, api.client.get("/").status());
                assertEquals(204, api.client.sendRaw("PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 128}").status());
            });
        } finally {
            for (SocketChannel ch : stalled) ch.close();
        }
    }

    /** One request to send raw, and what kind of hostility it is (for the counts). */
    private record Case(String kind, byte[] bytes) {}

    private Case next(Random random, Map<String, String> bodies, List<String> routes) {
        int pick = random.nextInt(100);
        if (pick < 45) {
            String route = routes.get(random.nextInt(routes.size()));
            String[] mp = route.split(" ", 2);
            byte[] body = mutate(random, bodies.get(route).getBytes(StandardCharsets.UTF_8));
            return new Case("mutated-body", request(mp[0], mp[1], body, body.length));
        }
        if (pick < 60) {
            String method = METHODS.get(random.nextInt(METHODS.size()));
            String path = PATHS.get(random.nextInt(PATHS.size()));
            String route = routes.get(random.nextInt(routes.size()));
            byte[] body = random.nextBoolean() ? new byte[0] : bodies.get(route).getBytes(StandardCharsets.UTF_8);
            return new Case("method-and-path", request(method, path, body, body.length));
        }
        if (pick < 70) {
            byte[] garbage = new byte[random.nextInt(600)];
            random.nextBytes(garbage);
            if (random.nextBoolean()) System.arraycopy("GET ".getBytes(StandardCharsets.US_ASCII), 0, garbage, 0, Math.min(4, garbage.length));
            return new Case("garbage", garbage);
        }
        String route = routes.get(random.nextInt(routes.size()));
        String[] mp = route.split(" ", 2);
        byte[] body = bodies.get(route).getBytes(StandardCharsets.UTF_8);
        if (pick < 85) {
            byte[] whole = request(mp[0], mp[1], body, body.length);
            return new Case("truncated", java.util.Arrays.copyOf(whole, random.nextInt(whole.length)));
        }
        long lie = switch (random.nextInt(6)) {
            case 0 -> body.length + 1 + random.nextInt(100);            // promises more than comes
            case 1 -> Math.max(0, body.length - 1 - random.nextInt(20)); // less: the rest looks like a new request
            case 2 -> -1 - random.nextInt(1000);
            case 3 -> Long.MAX_VALUE;
            case 4 -> 51_201 + random.nextInt(1 << 20);               // over the payload limit
            default -> 0;
        };
        return new Case("lying-length", request(mp[0], mp[1], body, lie));
    }

    private static byte[] request(String method, String path, byte[] body, long declaredLength) {
        String head = method + " " + path + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + declaredLength + "\r\n\r\n";
        byte[] h = head.getBytes(StandardCharsets.UTF_8);
        byte[] all = java.util.Arrays.copyOf(h, h.length + body.length);
        System.arraycopy(body, 0, all, h.length, body.length);
        return all;
    }

    /** A few random edits of a valid JSON body: the shapes a careless or hostile client sends. */
    private static byte[] mutate(Random random, byte[] valid) {
        String[] splices = {"null", "-1", "1e400", "99999999999999999999999", "\"\"", "[]", "{}", "\"\\u0000\"",
                "\"\\ud800\"", "true", ",", ":", "{\"a\":" .repeat(200), "]".repeat(50), "\u00ff\u00fe", "\"x\": 1, \"x\": 2",
                "0.5", "\"" + "y".repeat(5000) + "\""};
        byte[] b = valid;
        int edits = 1 + random.nextInt(4);
        for (int e = 0; e < edits; e++) {
            int at = b.length == 0 ? 0 : random.nextInt(b.length);
            switch (random.nextInt(5)) {
                case 0 -> { // flip a bit
                    if (b.length > 0) {
                        b = b.clone();
                        b[at] ^= (byte) (1 << random.nextInt(8));
                    }
                }
                case 1 -> b = java.util.Arrays.copyOf(b, at); // truncate
                case 2 -> { // delete a byte
                    if (b.length > 0) {
                        byte[] d = new byte[b.length - 1];
                        System.arraycopy(b, 0, d, 0, at);
                        System.arraycopy(b, at + 1, d, at, b.length - at - 1);
                        b = d;
                    }
                }
                default -> { // splice in a hostile token
                    byte[] s = splices[random.nextInt(splices.length)].getBytes(StandardCharsets.UTF_8);
                    byte[] n = new byte[b.length + s.length];
                    System.arraycopy(b, 0, n, 0, at);
                    System.arraycopy(s, 0, n, at, s.length);
                    System.arraycopy(b, at, n, at + s.length, b.length - at);
                    b = n;
                }
            }
        }
        return b;
    }

    /**
     * Sends the bytes, half-closes (the client has nothing more to say), and reads until the server closes.
     * Every status line in the answer must be below 500, and every refusal must carry a fault_message.
     */
    private void exchangeAndCheck(Case c, long seed, Map<String, AtomicLong> counts) throws IOException {
        byte[] answer;
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(api.socket))) {
            ch.setOption(StandardSocketOptions.SO_SNDBUF, 1 << 20);
            try {
                ch.write(ByteBuffer.wrap(c.bytes()));
                ch.shutdownOutput();
            } catch (IOException closedEarly) {
                // The server may answer and close before reading everything (an oversized body): read what it said.
            }
            answer = readUntilClosed(ch, c, seed);
        }
        String text = new String(answer, StandardCharsets.ISO_8859_1);
        Matcher m = STATUS_LINE.matcher(text);
        int answers = 0;
        while (m.find()) {
            answers++;
            int status = Integer.parseInt(m.group(1));
            counts.computeIfAbsent("status-" + status / 100 + "xx", k -> new AtomicLong()).incrementAndGet();
            if (status >= 500) fail("5xx for " + c.kind() + " (seed " + seed + "): " + printable(c.bytes()) + "\n=> " + text);
            if (status >= 400) checkFault(text.substring(m.start()), c, seed);
        }
        if (answers == 0) counts.computeIfAbsent("closed-without-answer", k -> new AtomicLong()).incrementAndGet();
    }

    private static byte[] readUntilClosed(SocketChannel ch, Case c, long seed) throws IOException {
        ch.configureBlocking(false);
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        ByteBuffer buf = ByteBuffer.allocate(16384);
        long deadline = System.nanoTime() + EXCHANGE_LIMIT.toNanos();
        try (Selector selector = Selector.open()) {
            ch.register(selector, SelectionKey.OP_READ);
            while (true) {
                long left = deadline - System.nanoTime();
                if (left <= 0) fail("no end of answer within " + EXCHANGE_LIMIT + " for " + c.kind() + " (seed " + seed + "): "
                        + printable(c.bytes()) + "\nso far: " + out);
                selector.select(Math.max(1, left / 1_000_000));
                selector.selectedKeys().clear();
                buf.clear();
                int n;
                try {
                    n = ch.read(buf);
                } catch (IOException reset) {
                    return out.toByteArray(); // the server closed hard: an answer (if any) came before
                }
                if (n < 0) return out.toByteArray();
                out.write(buf.array(), 0, n);
            }
        }
    }

    /** The answer starting at a status line of 4xx: its body, if it has one, is {"fault_message": "..."}. */
    private static void checkFault(String answer, Case c, long seed) {
        int headersEnd = answer.indexOf("\r\n\r\n");
        if (headersEnd < 0) return; // cut off by the server closing: nothing to check
        Matcher length = Pattern.compile("(?i)\r\nContent-Length: (\\d+)").matcher(answer.substring(0, headersEnd));
        assertTrue(length.find(), "a refusal without a body (seed " + seed + "): " + printable(c.bytes()) + "\n=> " + answer);
        int n = Integer.parseInt(length.group(1));
        if (printable(c.bytes()).startsWith("HEAD ")) return; // HEAD answers carry the length, not the body
        String body = answer.substring(headersEnd + 4, Math.min(answer.length(), headersEnd + 4 + n));
        try {
            JsonNode json = UnixSocketClient.SPEC_JSON.readTree(body);
            assertTrue(json.isObject() && json.size() == 1 && json.path("fault_message").isTextual(),
                    "not a fault_message: " + body);
        } catch (IOException e) {
            fail("refusal body is not JSON (seed " + seed + "): " + printable(c.bytes()) + "\n=> " + answer);
        }
    }

    private static String printable(byte[] bytes) {
        String s = new String(bytes, 0, Math.min(bytes.length, 300), StandardCharsets.ISO_8859_1);
        return s.replaceAll("[^\\x20-\\x7e]", "?");
    }
}
