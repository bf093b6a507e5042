package dev.flint.api;

import dev.flint.api.model.Fault;
import java.io.IOException;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.unixdomain.server.UnixDomainServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * Firecracker's REST API on a Unix domain socket: Jetty does HTTP/1.1, {@link ApiRoutes} maps requests
 * onto {@link VmmController}, and every refusal is a JSON {@code fault_message}. Bodies are capped (at
 * Firecracker's 51200 bytes by default) before they are buffered, so a client cannot make Flint hold an
 * arbitrary amount of memory.
 */
public final class ApiServer implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(ApiServer.class.getName());
    /** Firecracker's default --http-api-max-payload-size. */
    public static final int DEFAULT_MAX_PAYLOAD = 51200;
    /** How much of an oversized body is read and dropped so the client gets its 400 (see tooLarge). */
    static final long DRAIN_LIMIT = 4L << 20;
    /** Held so the level sticks: Jetty's start/stop banners are noise on a VMM's stderr. */
    private static final Logger JETTY_LOG = Logger.getLogger("org.eclipse.jetty");

    static {
        JETTY_LOG.setLevel(Level.WARNING);
    }

    private final Server server;
    private final Path socket;

    private ApiServer(Server server, Path socket) {
        this.server = server;
        this.socket = socket;
    }

    /**
     * Binds {@code socket} and starts serving. A stale socket file (nobody answers on it) is replaced; a
     * live one is left alone and this fails with {@link ApiException}-free {@link IOException} whose
     * message is the one line for the user.
     */
    public static ApiServer start(Path socket, VmmController vmm, int maxPayload) throws IOException {
        claimSocketPath(socket);
        QueuedThreadPool threads = new QueuedThreadPool(16, 2, 60_000);
        threads.setName("fc_api");
        Server server = new Server(threads);
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        http.setSendDateHeader(false);
        UnixDomainServerConnector connector = new UnixDomainServerConnector(server, 1, 1, new HttpConnectionFactory(http));
        connector.setUnixDomainPath(socket);
        server.addConnector(connector);
        server.setHandler(new Dispatcher(vmm, maxPayload));
        server.setErrorHandler(new FaultErrorHandler());
        try {
            server.start();
        } catch (Exception e) {
            try {
                server.stop();
            } catch (Exception ignored) {
                // already failing: the start error is the one to report
            }
            throw new IOException("cannot serve the API on " + socket + ": " + e.getMessage(), e);
        }
        return new ApiServer(server, socket);
    }

    public Path socket() { return socket; }

    /** Refuses a socket someone is serving on; removes one nobody is (left by a crashed VMM). */
    static void claimSocketPath(Path socket) throws IOException {
        if (!Files.exists(socket, java.nio.file.LinkOption.NOFOLLOW_LINKS)) return;
        if (Files.isDirectory(socket)) throw new IOException("API socket path " + socket + " is a directory");
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            probe.connect(UnixDomainSocketAddress.of(socket));
            throw new IOException("API socket " + socket + " is in use by another process; refusing to replace it");
        } catch (java.net.SocketException stale) {
            // Nobody listens (ECONNREFUSED) or it is not a socket: a leftover, safe to replace.
            LOG.fine(() -> "replacing stale API socket " + socket + " (" + stale.getMessage() + ")");
        }
        Files.delete(socket);
    }

    @Override
    public void close() {
        try {
            server.stop();
        } catch (Exception e) {
            LOG.log(Level.WARNING, "stopping the API server failed", e);
        }
        try {
            Files.deleteIfExists(socket);
        } catch (IOException e) {
            LOG.warning("cannot remove API socket " + socket + ": " + e.getMessage());
        }
    }

    /** Routes one request, counts it, and answers. */
    private static final class Dispatcher extends Handler.Abstract.NonBlocking {
        private final VmmController vmm;
        private final int maxPayload;

        Dispatcher(VmmController vmm, int maxPayload) {
            this.vmm = vmm;
            this.maxPayload = maxPayload;
        }

        @Override
        public boolean handle(Request request, Response response, Callback callback) {
            // Reading the body and waiting for the controller lock block; do that off the selector thread.
            request.getComponents().getExecutor().execute(() -> serve(request, response, callback));
            return true;
        }

        private void serve(Request request, Response response, Callback callback) {
            String method = request.getMethod();
            String path = Request.getPathInContext(request);
            ApiRoutes.Answer answer;
            String metric = null;
            try {
                ApiRoutes.Match match = ApiRoutes.find(method, path);
                metric = match.route().metric();
                vmm.metrics().increment(metric + "_count");
                byte[] body = readBody(request);
                answer = match.route().action().run(vmm, match.id(), body);
            } catch (ApiException e) {
                if (metric != null) vmm.metrics().increment(metric + "_fails");
                LOG.fine(() -> method + " " + path + " refused: " + e.getMessage());
                answer = new ApiRoutes.Answer(e.status(), new Fault(e.getMessage()));
            } catch (RuntimeException e) {
                if (metric != null) vmm.metrics().increment(metric + "_fails");
                LOG.log(Level.WARNING, method + " " + path + " failed", e);
                answer = new ApiRoutes.Answer(500, new Fault("internal error: " + e));
            }
            writeAnswer(response, answer.status(), answer.body(), callback);
        }

        private byte[] readBody(Request request) {
            long declared = request.getLength();
            try (InputStream in = Content.Source.asInputStream(request)) {
                if (declared > maxPayload) throw tooLarge(in, declared);
                byte[] body = in.readNBytes(maxPayload + 1);
                if (body.length > maxPayload) throw tooLarge(in, -1);
                return body;
            } catch (IOException e) {
                throw ApiException.badRequest("cannot read the request body: " + e.getMessage());
            }
        }

        /**
         * The refusal of an oversized body. A client that is still sending would see a broken pipe instead
         * of the answer if the server closed on it, so a moderate excess is read and dropped (never kept);
         * beyond {@link #DRAIN_LIMIT} the connection is closed.
         */
        private ApiException tooLarge(InputStream in, long declared) throws IOException {
            if (declared <= DRAIN_LIMIT) {
                byte[] sink = new byte[16384];
                long drained = 0;
                for (int n; drained <= DRAIN_LIMIT && (n = in.read(sink)) > 0; ) drained += n;
            }
            return tooLarge(declared);
        }

        private ApiException tooLarge(long declared) {
            return ApiException.badRequest("Request payload with size " + (declared < 0 ? "over " + maxPayload : declared)
                    + " is larger than the limit of " + maxPayload + " allowed by server.");
        }
    }

    static void writeAnswer(Response response, int status, Object body, Callback callback) {
        response.setStatus(status);
        if (body == null) {
            callback.succeeded();
            return;
        }
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
        response.write(true, ByteBuffer.wrap(Json.write(body)), callback);
    }

    /** Jetty's own refusals (malformed HTTP, oversized headers, ...) also answer with a fault_message. */
    private static final class FaultErrorHandler extends ErrorHandler {
        @Override
        protected void generateResponse(Request request, Response response, int code, String message,
                                        Throwable cause, Callback callback) {
            String text = message != null ? message : org.eclipse.jetty.http.HttpStatus.getMessage(code);
            writeAnswer(response, code, new Fault(text), callback);
        }
    }
}
