package dev.flint.cloud.console;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.eclipse.jetty.http.HttpCookie;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.FormFields;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Fields;
import org.eclipse.jetty.websocket.server.ServerWebSocketContainer;

/**
 * The web console at {@code /console/} on the daemon's listen address. Mount it ahead of the EC2 API
 * handler (it answers only paths under {@code /console}; for everything else it returns false), e.g.
 * {@code new Handler.Sequence(console, ec2Api)}.
 *
 * <p>Access: a browser signs in with the daemon's credentials and gets a session cookie (HttpOnly,
 * SameSite=Strict, path /console/). Until then every path answers only the sign-in page (or 401 for the
 * API). Every EC2 call from the pages is {@code POST /console/api} with form-encoded EC2 Query
 * parameters, the session cookie and the session's CSRF token in the {@value #CSRF_HEADER} header; it is
 * run by the same {@link Ec2Endpoint} as the EC2 API. The serial console is a WebSocket at
 * {@code /console/ws/serial/INSTANCE-ID}, refused without a session or from another origin.
 */
public final class ConsoleHandler extends Handler.Abstract {

    private static final Logger LOG = Logger.getLogger(ConsoleHandler.class.getName());

    static final String COOKIE = "flint_console";
    static final String CSRF_HEADER = "X-Flint-Csrf";
    static final String CSRF_PLACEHOLDER = "__FLINT_CSRF__";
    private static final String PREFIX = "/console/";
    private static final Pattern INSTANCE_PATH = Pattern.compile("/console/(ws/serial|metrics)/(i-[0-9a-f]{1,32})");
    private static final int MAX_API_FIELDS = 2000;
    private static final int MAX_API_BYTES = 512 * 1024;
    private static final Duration SERIAL_IDLE_TIMEOUT = Duration.ofMinutes(30);
    private static final String CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            + "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

    private final Ec2Endpoint ec2;
    private final SerialConsoles serialConsoles;
    private final InstanceMetrics metrics;
    private final ConsoleCredentials credentials;
    private final ConsoleSessions sessions;
    private final SignInThrottle throttle;
    private final ConsoleAssets assets = new ConsoleAssets();
    private final ObjectMapper json = new ObjectMapper();
    private volatile ServerWebSocketContainer webSockets;

    public ConsoleHandler(Ec2Endpoint ec2, SerialConsoles serialConsoles, InstanceMetrics metrics,
                          ConsoleCredentials credentials) {
        this(ec2, serialConsoles, metrics, credentials, Clock.systemUTC());
    }

    ConsoleHandler(Ec2Endpoint ec2, SerialConsoles serialConsoles, InstanceMetrics metrics,
                   ConsoleCredentials credentials, Clock clock) {
        this.ec2 = Objects.requireNonNull(ec2);
        this.serialConsoles = Objects.requireNonNull(serialConsoles);
        this.metrics = Objects.requireNonNull(metrics);
        this.credentials = Objects.requireNonNull(credentials);
        this.sessions = new ConsoleSessions(clock);
        this.throttle = new SignInThrottle(clock);
    }

    @Override
    protected void doStart() throws Exception {
        ServerWebSocketContainer container = ServerWebSocketContainer.ensure(Objects.requireNonNull(
                getServer(), "the console handler must be part of a Server"));
        container.setIdleTimeout(SERIAL_IDLE_TIMEOUT);
        container.setMaxBinaryMessageSize(64 * 1024);
        container.setMaxTextMessageSize(64 * 1024);
        webSockets = container;
        super.doStart();
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) throws Exception {
        String path = request.getHttpURI().getPath();
        if (path == null || !(path.equals("/console") || path.startsWith(PREFIX))) {
            return false;
        }
        securityHeaders(response);
        if (path.equals("/console")) {
            Response.sendRedirect(request, response, callback, HttpStatus.SEE_OTHER_303, PREFIX, true);
            return true;
        }
        String method = request.getMethod();
        if (path.equals("/console/signin")) {
            if (!HttpMethod.POST.is(method)) {
                Response.sendRedirect(request, response, callback, HttpStatus.SEE_OTHER_303, PREFIX, true);
            } else {
                signIn(request, response, callback);
            }
            return true;
        }
        Optional<ConsoleSessions.Session> session = sessions.touch(sessionId(request));
        if (session.isEmpty()) {
            refuseAnonymous(path, response, callback);
            return true;
        }
        ConsoleSessions.Session signedIn = session.get();
        Matcher instancePath = INSTANCE_PATH.matcher(path);
        boolean read = HttpMethod.GET.is(method) || HttpMethod.HEAD.is(method);
        if (!read && !path.equals("/console/api") && !path.equals("/console/signout")) {
            response.getHeaders().put(HttpHeader.ALLOW, "GET, HEAD");
            text(response, callback, HttpStatus.METHOD_NOT_ALLOWED_405, "text/plain; charset=utf-8", "Method not allowed\n");
            return true;
        }
        if (path.equals(PREFIX) || path.equals("/console/index.html")) {
            application(signedIn, response, callback);
        } else if (path.equals("/console/api")) {
            api(signedIn, request, response, callback);
        } else if (path.equals("/console/signout")) {
            signOut(signedIn, request, response, callback);
        } else if (path.startsWith("/console/assets/")) {
            asset(path.substring("/console/assets/".length()), response, callback);
        } else if (instancePath.matches() && instancePath.group(1).equals("metrics")) {
            metrics(instancePath.group(2), response, callback);
        } else if (instancePath.matches()) {
            serial(instancePath.group(2), request, response, callback);
        } else {
            text(response, callback, HttpStatus.NOT_FOUND_404, "text/plain; charset=utf-8", "Not found\n");
        }
        return true;
    }

    private void signIn(Request request, Response response, Callback callback) {
        if (!sameOriginOrAbsent(request)) {
            signInPage(response, callback, HttpStatus.FORBIDDEN_403, "This sign-in did not come from the console's own page.");
            return;
        }
        String address = Request.getRemoteAddr(request);
        long wait = throttle.waitSeconds(address);
        if (wait > 0) {
            response.getHeaders().put(HttpHeader.RETRY_AFTER, Long.toString(wait));
            signInPage(response, callback, HttpStatus.TOO_MANY_REQUESTS_429,
                    "Too many failed sign-ins. Try again in " + wait + " s.");
            return;
        }
        Fields form;
        try {
            form = FormFields.getFields(request, 10, 8 * 1024);
        } catch (RuntimeException e) {
            signInPage(response, callback, HttpStatus.BAD_REQUEST_400, "The sign-in form could not be read.");
            return;
        }
        String id = form.getValue("accessKeyId");
        String secret = form.getValue("secretAccessKey");
        if (id == null || secret == null || !credentials.accepts(id.strip(), secret.strip())) {
            throttle.failed(address);
            LOG.info(() -> "console: failed sign-in from " + address);
            signInPage(response, callback, HttpStatus.UNAUTHORIZED_401, "Wrong access key ID or secret access key.");
            return;
        }
        throttle.succeeded(address);
        ConsoleSessions.Session session = sessions.create();
        Response.addCookie(response, HttpCookie.build(COOKIE, session.id())
                .path(PREFIX).httpOnly(true).sameSite(HttpCookie.SameSite.STRICT).secure(request.isSecure()).build());
        Response.sendRedirect(request, response, callback, HttpStatus.SEE_OTHER_303, PREFIX, true);
    }

    private void signOut(ConsoleSessions.Session session, Request request, Response response, Callback callback) {
        if (!HttpMethod.POST.is(request.getMethod()) || !csrfHolds(session, request)) {
            text(response, callback, HttpStatus.FORBIDDEN_403, "text/plain; charset=utf-8", "CSRF token missing or wrong\n");
            return;
        }
        sessions.end(session.id());
        Response.addCookie(response, HttpCookie.build(COOKIE, "")
                .path(PREFIX).httpOnly(true).sameSite(HttpCookie.SameSite.STRICT).maxAge(0).build());
        response.setStatus(HttpStatus.NO_CONTENT_204);
        callback.succeeded();
    }

    private void refuseAnonymous(String path, Response response, Callback callback) {
        if (path.equals("/console/api")) {
            text(response, callback, HttpStatus.UNAUTHORIZED_401, "text/xml; charset=utf-8",
                    errorXml("AuthFailure", "Sign in to the console first."));
        } else if (path.equals(PREFIX) || path.equals("/console/index.html")) {
            signInPage(response, callback, HttpStatus.OK_200, null);
        } else {
            signInPage(response, callback, HttpStatus.UNAUTHORIZED_401, null);
        }
    }

    private void application(ConsoleSessions.Session session, Response response, Callback callback) {
        Optional<String> index = assets.indexHtml();
        if (index.isEmpty()) {
            text(response, callback, HttpStatus.SERVICE_UNAVAILABLE_503, "text/plain; charset=utf-8",
                    "The console's pages were not built into this Flint (the build needs Node.js and npm).\n");
            return;
        }
        text(response, callback, HttpStatus.OK_200, "text/html; charset=utf-8",
                index.get().replace(CSRF_PLACEHOLDER, session.csrfToken()));
    }

    private void api(ConsoleSessions.Session session, Request request, Response response, Callback callback) {
        if (!HttpMethod.POST.is(request.getMethod())) {
            response.getHeaders().put(HttpHeader.ALLOW, "POST");
            text(response, callback, HttpStatus.METHOD_NOT_ALLOWED_405, "text/xml; charset=utf-8",
                    errorXml("InvalidRequest", "The console API takes POST only."));
            return;
        }
        if (!csrfHolds(session, request) || !sameOriginOrAbsent(request)) {
            text(response, callback, HttpStatus.FORBIDDEN_403, "text/xml; charset=utf-8",
                    errorXml("InvalidClientTokenId", "The console's CSRF token is missing or wrong; reload the page."));
            return;
        }
        Map<String, List<String>> form = new LinkedHashMap<>();
        try {
            for (Fields.Field field : FormFields.getFields(request, MAX_API_FIELDS, MAX_API_BYTES)) {
                form.put(field.getName(), List.copyOf(field.getValues()));
            }
        } catch (RuntimeException e) {
            text(response, callback, HttpStatus.BAD_REQUEST_400, "text/xml; charset=utf-8",
                    errorXml("InvalidParameterValue", "The request's form could not be read (too large or malformed)."));
            return;
        }
        Ec2Endpoint.Ec2Reply reply;
        try {
            reply = ec2.handle(Map.copyOf(form));
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "console: EC2 action " + form.get("Action") + " failed", e);
            reply = new Ec2Endpoint.Ec2Reply(HttpStatus.INTERNAL_SERVER_ERROR_500,
                    errorXml("InternalError", "The request failed inside Flint; the daemon's log has the details."));
        }
        response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
        text(response, callback, reply.status(), "text/xml; charset=utf-8", reply.xml());
    }

    private void asset(String name, Response response, Callback callback) {
        Optional<ConsoleAssets.Asset> asset = assets.asset(name);
        if (asset.isEmpty()) {
            text(response, callback, HttpStatus.NOT_FOUND_404, "text/plain; charset=utf-8", "Not found\n");
            return;
        }
        response.setStatus(HttpStatus.OK_200);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, asset.get().contentType());
        // The build names every asset after its content's hash, so a name never changes meaning.
        response.getHeaders().put(HttpHeader.CACHE_CONTROL, "private, max-age=31536000, immutable");
        response.write(true, ByteBuffer.wrap(asset.get().bytes()), callback);
    }

    private void metrics(String instanceId, Response response, Callback callback) {
        List<InstanceMetrics.Sample> samples;
        try {
            samples = new ArrayList<>(metrics.recent(instanceId));
        } catch (RuntimeException e) {
            LOG.log(Level.FINE, "console: metrics of " + instanceId, e);
            samples = List.of();
        }
        try {
            response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
            text(response, callback, HttpStatus.OK_200, "application/json",
                    json.writeValueAsString(Map.of("instanceId", instanceId, "samples", samples)));
        } catch (JsonProcessingException e) {
            callback.failed(e);
        }
    }

    private void serial(String instanceId, Request request, Response response, Callback callback) {
        if (request.getHeaders().get(HttpHeader.ORIGIN) == null || !sameOriginOrAbsent(request)) {
            text(response, callback, HttpStatus.FORBIDDEN_403, "text/plain; charset=utf-8",
                    "The serial console takes connections from the console's own pages only.\n");
            return;
        }
        boolean upgraded = webSockets.upgrade(
                (upgradeRequest, upgradeResponse, upgradeCallback) -> new SerialSocket(serialConsoles, instanceId),
                request, response, callback);
        if (!upgraded) {
            text(response, callback, HttpStatus.BAD_REQUEST_400, "text/plain; charset=utf-8",
                    "The serial console is a WebSocket.\n");
        }
    }

    private static boolean csrfHolds(ConsoleSessions.Session session, Request request) {
        return session.csrfMatches(request.getHeaders().get(CSRF_HEADER));
    }

    /**
     * A browser names the page's origin on every POST and WebSocket handshake. When it is there it must be
     * this very console (scheme, host and port as the browser addressed us); a request without one did not
     * come from another site's page in a browser.
     */
    static boolean sameOriginOrAbsent(Request request) {
        String origin = request.getHeaders().get(HttpHeader.ORIGIN);
        if (origin == null) {
            return true;
        }
        try {
            URI uri = new URI(origin);
            String scheme = request.getHttpURI().getScheme();
            int port = uri.getPort() != -1 ? uri.getPort() : ("https".equalsIgnoreCase(uri.getScheme()) ? 443 : 80);
            return uri.getScheme() != null && uri.getScheme().equalsIgnoreCase(scheme)
                    && uri.getHost() != null && uri.getHost().equalsIgnoreCase(Request.getServerName(request))
                    && port == Request.getServerPort(request);
        } catch (java.net.URISyntaxException e) {
            return false;
        }
    }

    private static String sessionId(Request request) {
        for (HttpCookie cookie : Request.getCookies(request)) {
            if (COOKIE.equals(cookie.getName())) {
                return cookie.getValue();
            }
        }
        return null;
    }

    private static void securityHeaders(Response response) {
        var headers = response.getHeaders();
        headers.put("Content-Security-Policy", CSP);
        headers.put("X-Content-Type-Options", "nosniff");
        headers.put("X-Frame-Options", "DENY");
        // same-origin, not no-referrer: under no-referrer a browser sends "Origin: null" on its own form posts.
        headers.put("Referrer-Policy", "same-origin");
    }

    private static void signInPage(Response response, Callback callback, int status, String message) {
        response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
        text(response, callback, status, "text/html; charset=utf-8", SignInPage.html(message));
    }

    private static void text(Response response, Callback callback, int status, String contentType, String body) {
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, contentType);
        response.write(true, ByteBuffer.wrap(body.getBytes(StandardCharsets.UTF_8)), callback);
    }

    static String errorXml(String code, String message) {
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>" + code
                + "</Code><Message>" + SignInPage.escape(message) + "</Message></Error></Errors><RequestID>"
                + UUID.randomUUID() + "</RequestID></Response>";
    }
}
