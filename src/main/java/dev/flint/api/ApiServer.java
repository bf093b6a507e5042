package dev.flint.api;

import dev.flint.api.model.Fault;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Executor;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
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
    private static final String REFERENCES_PER_CACHE_LINE = "org.eclipse.jetty.util.referencesPerCacheLine";

    static {
        JETTY_LOG.setLevel(Level.WARNING);
        // Jetty sizes its padding by asking the HotSpot diagnostic MBean whether oops are compressed, which
        // starts JMX and the JFR MBean (hundreds of classes, tens of milliseconds, megabytes of RSS) before
        // the socket is up. Answering the question here keeps all of that off the path to the socket: with
        // compressed oops (heaps under 32 GiB) a reference is 4 bytes, 16 of them per 64-byte cache line.
        if (System.getProperty(REFERENCES_PER_CACHE_LINE) == null) System.setProperty(REFERENCES_PER_CACHE_LINE, "16");
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
        // Orchestrators wait for the socket file to appear and then connect. Binding makes the file a moment
        // before the socket listens, and a connect in that moment is refused: so the socket is bound under
        // a temporary name beside it and renamed into place once it listens (rename is atomic, and a
        // socket keeps serving under its new name).
        Path binding = bindingPath(socket);
        Files.deleteIfExists(binding);
        connector.setUnixDomainPath(binding);
        server.addConnector(connector);
        server.setHandler(new Dispatcher(vmm, maxPayload));
        server.setErrorHandler(new FaultErrorHandler());
        try {
            server.start();
            if (!binding.equals(socket)) Files.move(binding, socket, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (Exception e) {
            try {
                Files.deleteIfExists(binding);
            } catch (IOException ignored) {
                // best effort: the start error is the one to report
            }
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

    /** Longest path a Unix socket address holds on Linux (sun_path is 108 bytes with its terminating NUL). */
    private static final int MAX_SOCKET_PATH = 107;

    /** The temporary name {@code socket} is bound under, or {@code socket} itself if that name would be too long. */
    static Path bindingPath(Path socket) {
        Path binding = socket.resolveSibling("." + socket.getFileName() + "." + ProcessHandle.current().pid());
        return binding.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length <= MAX_SOCKET_PATH ? binding : socket;
    }

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

    /**
     * Routes one request, counts it, and answers. The body is read without blocking a thread (a client that
     * sends half a body and stalls holds only its own connection, until the idle timeout); the action then
     * runs on a pool thread, since it may wait for the controller's lock.
     */
    private static final class Dispatcher extends Handler.Abstract.NonBlocking {
        private final VmmController vmm;
        private final int maxPayload;

        Dispatcher(VmmController vmm, int maxPayload) {
            this.vmm = vmm;
            this.maxPayload = maxPayload;
        }

        @Override
        public boolean handle(Request request, Response response, Callback callback) {
            Executor executor = request.getComponents().getExecutor();
            String method = request.getMethod();
            String path = Request.getPathInContext(request);
            ApiRoutes.Match match;
            try {
                match = ApiRoutes.find(method, path);
            } catch (ApiException e) {
                refuse(response, callback, null, method, path, e);
                return true;
            }
            String metric = match.route().metric();
            vmm.metrics().increment(metric + "_count");
            long declared = request.getLength();
            if (declared > maxPayload) {
                ApiException refusal = tooLarge(declared);
                // A client still sending would see a broken pipe instead of the answer if the connection closed
                // under it, so a moderate excess is read and dropped (never kept) before answering; beyond
                // DRAIN_LIMIT the connection is closed after the answer.
                if (declared <= DRAIN_LIMIT) {
                    Content.Source.consumeAll(request, Callback.from(
                            () -> refuse(response, callback, metric, method, path, refusal),
                            failure -> refuse(response, callback, metric, method, path, refusal)));
                } else {
                    refuse(response, callback, metric, method, path, refusal);
                }
                return true;
            }
            // One byte over the limit is enough to know a body without Content-Length is too large.
            Content.Source.asByteArrayAsync(request, maxPayload + 1).whenComplete((body, failure) -> executor.execute(() -> {
                try {
                    answer(match, body, failure, response, callback, metric, method, path);
                } catch (Throwable bug) {
                    // Nothing thrown here may leave the request unanswered until the idle timeout: Jetty answers a
                    // failed callback with a 500 fault_message (FaultErrorHandler), or ignores it if already answered.
                    LOG.log(Level.WARNING, method + " " + path + " failed", bug);
                    callback.failed(bug);
                }
            }));
            return true;
        }

        /** The answer once the body is read: a refusal if reading failed or it is too large, else the action's. */
        private void answer(ApiRoutes.Match match, byte[] body, Throwable failure, Response response, Callback callback,
                            String metric, String method, String path) {
            if (failure != null && overLimit(unwrap(failure))) {
                refuse(response, callback, metric, method, path, tooLarge(-1));
            } else if (failure != null) {
                refuse(response, callback, metric, method, path,
                        ApiException.badRequest("cannot read the request body: " + describe(failure)));
            } else if (body.length > maxPayload) {
                refuse(response, callback, metric, method, path, tooLarge(-1));
            } else {
                serve(match, body, response, callback, metric, method, path);
            }
        }

        private void serve(ApiRoutes.Match match, byte[] body, Response response, Callback callback, String metric,
                           String method, String path) {
            ApiRoutes.Answer answer;
            try {
                answer = match.route().action().run(vmm, match.id(), body);
            } catch (ApiException e) {
                refuse(response, callback, metric, method, path, e);
                return;
            } catch (RuntimeException | LinkageError | AssertionError | StackOverflowError e) {
                // A bug must still get an answer: left to the pool, the request would hang until the client gave up.
                vmm.metrics().increment(metric + "_fails");
                LOG.log(Level.WARNING, method + " " + path + " failed", e);
                answer = new ApiRoutes.Answer(500, new Fault("internal error: " + e));
            }
            writeAnswer(response, answer.status(), answer.body(), callback);
        }

        private void refuse(Response response, Callback callback, String metric, String method, String path, ApiException e) {
            if (metric != null) vmm.metrics().increment(metric + "_fails");
            LOG.fine(() -> method + " " + path + " refused: " + e.getMessage());
            writeAnswer(response, e.status(), new Fault(e.getMessage()), callback);
        }

        private ApiException tooLarge(long declared) {
            return ApiException.badRequest("Request payload with size " + (declared < 0 ? "over " + maxPayload : declared)
                    + " is larger than the limit of " + maxPayload + " allowed by server.");
        }

        /** Jetty's way of saying a body without Content-Length went past the size it was asked to read. */
        private static boolean overLimit(Throwable cause) {
            return cause instanceof IllegalStateException && cause.getMessage() != null && cause.getMessage().startsWith("Max size");
        }

        private static Throwable unwrap(Throwable failure) {
            return failure instanceof java.util.concurrent.CompletionException && failure.getCause() != null
                    ? failure.getCause() : failure;
        }

        private static String describe(Throwable failure) {
            Throwable cause = unwrap(failure);
            String message = cause.getMessage();
            return message == null || message.isBlank() ? cause.getClass().getSimpleName() : message;
        }
    }

    /**
     * Answers with one last write whose completion completes {@code callback}, even without a body (a 204).
     * Completing the callback without a last write makes Jetty send the last write itself, and Jetty 12.1 then
     * finishes the request twice when the answer comes from a pool thread while the handler is still returning
     * on the selector thread: the second finish throws inside Jetty ("Serialized invocation error") and the
     * connection's next request is never answered (ApiKeepAliveTest). After our own last write, Jetty decides
     * under one lock who finishes the request.
     */
    static void writeAnswer(Response response, int status, Object body, Callback callback) {
        response.setStatus(status);
        if (body == null) {
            response.write(true, null, callback);
            return;
        }
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
        response.write(true, ByteBuffer.wrap(Json.write(body)), callback);
    }

    /**
     * Jetty's own refusals also answer with a {@code fault_message}: malformed requests, ambiguous paths
     * such as {@code //}, a bad or repeated Content-Length, oversized headers. Jetty writes error bodies only
     * for GET, POST and HEAD by default, and none at all for requests its parser rejects; both are widened
     * here, and its Cache-Control header is dropped (Firecracker sends none).
     */
    private static final class FaultErrorHandler extends ErrorHandler {
        FaultErrorHandler() {
            setCacheControl(null);
        }

        @Override
        public boolean errorPageForMethod(String method) { return true; }

        @Override
        protected void generateResponse(Request request, Response response, int code, String message,
                                        Throwable cause, Callback callback) {
            writeAnswer(response, clientStatus(code), new Fault(faultText(code, message)), callback);
        }

        /**
         * Jetty's parser answers 505 for an unknown HTTP version (an empty path reads as HTTP/0.9) and 501
         * for an unknown transfer coding: both are the request's fault, so 400 as Firecracker answers every
         * request it cannot parse. A 500 stays a 500: that would be Flint's fault.
         */
        private static int clientStatus(int code) {
            return code == HttpStatus.HTTP_VERSION_NOT_SUPPORTED_505 || code == HttpStatus.NOT_IMPLEMENTED_501 ? 400 : code;
        }

        @Override
        public ByteBuffer badMessageError(int status, String reason, HttpFields.Mutable fields) {
            fields.put(HttpHeader.CONTENT_TYPE, "application/json");
            return ByteBuffer.wrap(Json.write(new Fault(faultText(status, reason))));
        }

        private static String faultText(int code, String message) {
            String text = message != null && !message.isBlank() ? message : HttpStatus.getMessage(code);
            return "Bad HTTP request: " + text;
        }
    }
}
