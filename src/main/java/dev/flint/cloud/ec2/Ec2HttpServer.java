package dev.flint.cloud.ec2;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * The EC2 endpoint: Jetty on TCP ({@code --listen}, default 127.0.0.1:8773) handing each request to
 * {@link Ec2Api}. Bodies are capped at {@link #MAX_BODY} before they are buffered; a bigger one is answered
 * with EC2-style error XML (413) and the connection closed, so no client can make the daemon hold more.
 */
public final class Ec2HttpServer implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Ec2HttpServer.class.getName());
    public static final int MAX_BODY = 1 << 20;
    /** The most of a too-large body read (and dropped) so that its 413 reaches the client; see readBody. */
    static final long DRAIN_LIMIT = 16L << 20;
    private static final Logger JETTY_LOG = Logger.getLogger("org.eclipse.jetty");

    static {
        JETTY_LOG.setLevel(Level.WARNING);
    }

    private final Server server;
    private final InetSocketAddress address;

    private Ec2HttpServer(Server server, InetSocketAddress address) {
        this.server = server;
        this.address = address;
    }

    public static Ec2HttpServer start(InetSocketAddress listen, Ec2Api api) throws IOException {
        return start(listen, api, null);
    }

    /**
     * Serves {@code api} on {@code listen}; {@code front}, if given, sees each request first and takes those it
     * answers (the web console takes {@code /console/...}), the rest reach the EC2 API.
     */
    public static Ec2HttpServer start(InetSocketAddress listen, Ec2Api api, Handler front) throws IOException {
        QueuedThreadPool threads = new QueuedThreadPool(32, 4, 60_000);
        threads.setName("ec2-api");
        threads.setDaemon(true);
        Server server = new Server(threads);
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        ServerConnector connector = new ServerConnector(server, 1, 1, new HttpConnectionFactory(http));
        connector.setHost(listen.getHostString());
        connector.setPort(listen.getPort());
        connector.setIdleTimeout(60_000);
        server.addConnector(connector);
        server.setHandler(front == null ? new Dispatcher(api) : new Handler.Sequence(front, new Dispatcher(api)));
        try {
            server.start();
        } catch (Exception e) {
            try {
                server.stop();
            } catch (Exception ignored) {
                // the start failure is the one to report
            }
            throw new IOException("cannot listen on " + listen.getHostString() + ":" + listen.getPort() + ": " + e.getMessage(), e);
        }
        return new Ec2HttpServer(server, new InetSocketAddress(listen.getAddress(), connector.getLocalPort()));
    }

    /** Where it listens (the real port when 0 was asked for). */
    public InetSocketAddress address() { return address; }

    public String endpoint() {
        String host = address.getHostString();
        if (host.contains(":")) host = "[" + host + "]";
        return "http://" + host + ":" + address.getPort();
    }

    @Override
    public void close() {
        try {
            server.stop();
        } catch (Exception e) {
            LOG.log(Level.WARNING, "stopping the EC2 endpoint failed", e);
        }
    }

    private static final class Dispatcher extends Handler.Abstract {
        private final Ec2Api api;

        Dispatcher(Ec2Api api) {
            this.api = api;
        }

        @Override
        public boolean handle(Request request, Response response, Callback callback) {
            Ec2Api.Answer answer;
            byte[] body = readBody(request);
            if (body == null) {
                answer = new Ec2Api.Answer(413, XmlEncoder.error("RequestEntityTooLarge",
                        "The request body is larger than " + MAX_BODY + " bytes.", java.util.UUID.randomUUID().toString()));
                response.getHeaders().put(HttpHeader.CONNECTION, "close");
            } else {
                Map<String, String> headers = new HashMap<>();
                for (HttpField field : request.getHeaders()) {
                    headers.merge(field.getName().toLowerCase(Locale.ROOT), field.getValue(), (a, b) -> a + "," + b);
                }
                String query = request.getHttpURI().getQuery();
                SigV4Verifier.SignedRequest signed = new SigV4Verifier.SignedRequest(request.getMethod(),
                        request.getHttpURI().getPath(), query == null ? "" : query, headers, body);
                InetAddress remote = Request.getRemoteAddr(request).isEmpty() ? null : remoteAddress(request);
                answer = api.handle(signed, remote);
            }
            response.setStatus(answer.status());
            response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/xml;charset=UTF-8");
            response.write(true, ByteBuffer.wrap(answer.body().getBytes(StandardCharsets.UTF_8)), callback);
            return true;
        }

        private static InetAddress remoteAddress(Request request) {
            java.net.SocketAddress remote = request.getConnectionMetaData().getRemoteSocketAddress();
            return remote instanceof InetSocketAddress inet ? inet.getAddress() : null;
        }

        /**
         * The body, or null if it is larger than {@link #MAX_BODY} (by its Content-Length or as it streams). A body
         * too large is still read and thrown away up to {@link #DRAIN_LIMIT}: closing a connection with request
         * bytes unread makes the kernel reset it, and the reset can reach the client before the 413 does, so the
         * client would see a dropped connection instead of the error. Past that limit the connection is just closed.
         */
        private static byte[] readBody(Request request) {
            long declared = request.getLength();
            try (InputStream in = Content.Source.asInputStream(request)) {
                if (declared > MAX_BODY) {
                    if (declared <= DRAIN_LIMIT) drain(in);
                    return null;
                }
                byte[] bytes = in.readNBytes(MAX_BODY + 1);
                if (bytes.length <= MAX_BODY) return bytes;
                drain(in);
                return null;
            } catch (IOException e) {
                return new byte[0];
            }
        }

        private static void drain(InputStream in) throws IOException {
            byte[] scratch = new byte[64 << 10];
            long left = DRAIN_LIMIT;
            for (int n; left > 0 && (n = in.read(scratch, 0, (int) Math.min(scratch.length, left))) > 0; ) left -= n;
        }
    }
}
