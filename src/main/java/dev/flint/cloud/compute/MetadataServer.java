package dev.flint.cloud.compute;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.flint.cloud.compute.MetadataSource.InstanceMetadata;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ExecutorService;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The instance metadata service (IMDS) at 169.254.169.254:80 on the instance bridge: IMDSv2 (a session
 * token from {@code PUT /latest/api/token}, then GETs carrying it) and IMDSv1 (plain GETs) unless the
 * instance requires tokens. Who asks is the packet's source address, which the bridge guard
 * ({@link InstanceNetwork}) makes trustworthy; a token is bound to the instance that got it, so a token
 * leaked to another instance is worthless there.
 *
 * <p>Served: {@code meta-data/} (ami-id, hostname, instance-id, instance-type, local-hostname,
 * local-ipv4, mac, placement/availability-zone, public-keys/N=name and public-keys/N/openssh-key, with
 * the index listings) and {@code user-data}. Anything else is 404, as on EC2.
 */
final class MetadataServer implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(MetadataServer.class.getName());
    static final int MAX_TTL_SECONDS = 21_600;
    /** Tokens kept at most; expired ones are dropped first, then the oldest (a hostile guest may ask forever). */
    static final int MAX_TOKENS = 10_000;
    private static final SecureRandom RANDOM = new SecureRandom();

    static {
        // The JDK server waits forever for a slow request unless told otherwise; a guest is hostile. These
        // are read once per JVM, so they are set only if nobody chose other values.
        if (System.getProperty("sun.net.httpserver.maxReqTime") == null) System.setProperty("sun.net.httpserver.maxReqTime", "10");
        if (System.getProperty("sun.net.httpserver.maxRspTime") == null) System.setProperty("sun.net.httpserver.maxRspTime", "10");
    }

    private record Token(String instanceId, long expiresNanos) {}

    private final MetadataSource source;
    private final Map<String, Token> tokens = new ConcurrentHashMap<>();
    private final HttpServer server;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();

    private MetadataServer(MetadataSource source, HttpServer server) {
        this.source = source;
        this.server = server;
        server.createContext("/", this::handle);
        server.setExecutor(executor);
    }

    /** Listens on {@code address:port}; the caller decides the namespace (see NetNamespaces). */
    static MetadataServer start(MetadataSource source, String address, int port) throws IOException {
        MetadataServer s = new MetadataServer(source, HttpServer.create(new InetSocketAddress(address, port), 64));
        s.server.start();
        return s;
    }

    int port() { return server.getAddress().getPort(); }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            drain(ex.getRequestBody());
            String caller = ex.getRemoteAddress().getAddress().getHostAddress();
            Optional<InstanceMetadata> instance;
            try {
                instance = source.byPrivateIp(caller);
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "metadata lookup for " + caller + " failed", e);
                reply(ex, 500, "Internal Server Error");
                return;
            }
            if (instance.isEmpty()) {
                reply(ex, 404, "Not Found");
                return;
            }
            InstanceMetadata md = instance.get();
            String path = ex.getRequestURI().getRawPath();
            String method = ex.getRequestMethod();
            if (path.equals("/latest/api/token")) {
                if (!method.equals("PUT")) {
                    reply(ex, 405, "Method Not Allowed");
                } else {
                    issueToken(ex, md);
                }
                return;
            }
            if (!method.equals("GET") && !method.equals("HEAD")) {
                reply(ex, 405, "Method Not Allowed");
                return;
            }
            String token = ex.getRequestHeaders().getFirst("X-aws-ec2-metadata-token");
            if (token == null ? md.tokensRequired() : !validToken(token, md.instanceId())) {
                reply(ex, 401, "Unauthorized");
                return;
            }
            byte[] body = MetadataTree.lookup(md, path);
            if (body == null) {
                reply(ex, 404, "Not Found");
            } else {
                send(ex, 200, body);
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.FINE, "metadata request failed", e);
        }
    }

    private void issueToken(HttpExchange ex, InstanceMetadata md) throws IOException {
        // EC2 refuses token requests that came through a proxy, so a proxy on the instance cannot fetch them.
        if (ex.getRequestHeaders().containsKey("X-Forwarded-For")) {
            reply(ex, 403, "Forbidden");
            return;
        }
        String ttlHeader = ex.getRequestHeaders().getFirst("X-aws-ec2-metadata-token-ttl-seconds");
        int ttl;
        try {
            ttl = ttlHeader == null ? -1 : Integer.parseInt(ttlHeader.strip());
        } catch (NumberFormatException e) {
            ttl = -1;
        }
        if (ttl < 1 || ttl > MAX_TTL_SECONDS) {
            reply(ex, 400, "Bad Request");
            return;
        }
        byte[] raw = new byte[32];
        RANDOM.nextBytes(raw);
        String token = Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
        makeRoom();
        tokens.put(token, new Token(md.instanceId(), System.nanoTime() + ttl * 1_000_000_000L));
        ex.getResponseHeaders().add("X-aws-ec2-metadata-token-ttl-seconds", Integer.toString(ttl));
        send(ex, 200, token.getBytes(StandardCharsets.US_ASCII));
    }

    private boolean validToken(String token, String instanceId) {
        Token t = tokens.get(token);
        if (t == null) return false;
        if (System.nanoTime() - t.expiresNanos > 0) {
            tokens.remove(token);
            return false;
        }
        return t.instanceId.equals(instanceId);
    }

    private void makeRoom() {
        if (tokens.size() < MAX_TOKENS) return;
        long now = System.nanoTime();
        tokens.values().removeIf(t -> now - t.expiresNanos > 0);
        Iterator<String> it = tokens.keySet().iterator();
        while (tokens.size() >= MAX_TOKENS && it.hasNext()) {
            it.next();
            it.remove();
        }
    }

    /** A metadata request has no body worth reading; bound what a hostile client may push. */
    private static void drain(InputStream in) throws IOException {
        byte[] buf = new byte[4096];
        long total = 0;
        for (int n; (n = in.read(buf)) > 0 && (total += n) < 65_536; ) {
            // discard
        }
    }

    private static void reply(HttpExchange ex, int status, String text) throws IOException {
        send(ex, status, text.getBytes(StandardCharsets.US_ASCII));
    }

    private static void send(HttpExchange ex, int status, byte[] body) throws IOException {
        ex.getResponseHeaders().set("Content-Type", "text/plain");
        boolean head = ex.getRequestMethod().equals("HEAD");
        ex.sendResponseHeaders(status, head ? -1 : body.length == 0 ? -1 : body.length);
        if (!head && body.length > 0) ex.getResponseBody().write(body);
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
