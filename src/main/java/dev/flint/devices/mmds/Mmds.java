package dev.flint.devices.mmds;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Iterator;
import java.util.function.LongSupplier;

/**
 * The microVM metadata service one VMM runs: its data store, its settings (version, address, IMDS
 * compatibility), its V2 session tokens, and how it answers a guest's HTTP request. The network side,
 * which carries those requests from a guest's frames, is {@link MmdsNetStack}, one per interface.
 *
 * <p>V1 answers GETs without a token (a token, if sent, is not checked), as Firecracker does for
 * workloads written before V2. V2 answers a GET only with a live token from {@code PUT /latest/api/token}.
 * Both answer only GET and PUT (405 otherwise). The answer is JSON if the request accepts
 * {@code application/json} (unless in IMDS-compatible mode), else IMDS text: a string as itself, an
 * object as its keys one per line (objects with a trailing '/'); other values cannot be shown as text (501).
 */
public final class Mmds {
    /** Firecracker's default address; any 169.254.[1-254].[0-255] may be configured. */
    public static final int DEFAULT_IPV4 = ipv4(169, 254, 169, 254);
    static final String TOKEN_PATH = "/latest/api/token";

    public enum Version { V1, V2 }

    /** @param ipv4 the service's address, host byte order */
    public record Settings(Version version, int ipv4, boolean imdsCompat) {
        public static final Settings DEFAULT = new Settings(Version.V1, DEFAULT_IPV4, false);
    }

    private final MmdsStore store;
    private final MmdsTokens tokens;
    private volatile Settings settings = Settings.DEFAULT;

    public Mmds(int sizeLimit) {
        this(sizeLimit, System::nanoTime);
    }

    Mmds(int sizeLimit, LongSupplier nanoClock) {
        this.store = new MmdsStore(sizeLimit);
        this.tokens = new MmdsTokens(nanoClock);
    }

    public MmdsStore store() { return store; }

    public Settings settings() { return settings; }

    public void configure(Settings settings) { this.settings = settings; }

    /** Version of {@link #save}'s layout. */
    private static final int STATE_VERSION = 1;

    /**
     * Snapshot: the settings (version, address, IMDS compatibility) and the data store as JSON. V2 session
     * tokens are not kept: a restored guest asks for a new token (its old one answers 401).
     */
    public void save(dev.flint.machine.state.StateWriter.Section out) {
        Settings s = settings;
        out.putInt(STATE_VERSION).putString(s.version().name()).putInt(s.ipv4()).putBoolean(s.imdsCompat());
        byte[] json = store.snapshot().toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        out.putInt(json.length).putBytes(json); // the length first: the reader must know it to ask for the bytes
    }

    /** Takes back {@link #save}'s settings and data (the data must fit this store's size limit). */
    public void restore(dev.flint.machine.state.StateReader.Section in) {
        int version = in.getInt();
        if (version != STATE_VERSION) {
            throw new dev.flint.machine.state.SnapshotException("mmds: the snapshot's state is version " + version
                    + ", this Flint reads version " + STATE_VERSION);
        }
        Settings s;
        try {
            s = new Settings(Version.valueOf(in.getString()), in.getInt(), in.getBoolean());
        } catch (IllegalArgumentException e) {
            throw new dev.flint.machine.state.SnapshotException("mmds: the snapshot names an unknown MMDS version");
        }
        int length = in.getInt();
        if (length < 0 || length > 64 << 20) throw new dev.flint.machine.state.SnapshotException("mmds: a data store of " + length + " bytes");
        byte[] json = in.getBytes(length);
        in.end();
        try {
            store.put(new com.fasterxml.jackson.databind.ObjectMapper().readTree(json));
        } catch (java.io.IOException | MmdsException e) {
            throw new dev.flint.machine.state.SnapshotException("mmds: the snapshot's data store cannot be taken back: " + e.getMessage(), e);
        }
        configure(s);
    }

    /** Parses "a.b.c.d" into a host-order int if it is a link-local address MMDS may use, else throws. */
    public static int parseLinkLocal(String text) {
        String[] parts = text == null ? new String[0] : text.split("\\.", -1);
        if (parts.length != 4) throw new IllegalArgumentException("`" + text + "` is not an IPv4 address");
        int[] octets = new int[4];
        for (int i = 0; i < 4; i++) {
            if (!parts[i].matches("0|[1-9][0-9]{0,2}")) throw new IllegalArgumentException("`" + text + "` is not an IPv4 address");
            octets[i] = Integer.parseInt(parts[i]);
            if (octets[i] > 255) throw new IllegalArgumentException("`" + text + "` is not an IPv4 address");
        }
        if (octets[0] != 169 || octets[1] != 254 || octets[2] < 1 || octets[2] > 254) {
            throw new IllegalArgumentException("`" + text + "` is not a link-local address in 169.254.1.0 - 169.254.254.255");
        }
        return ipv4(octets[0], octets[1], octets[2], octets[3]);
    }

    static int ipv4(int a, int b, int c, int d) { return a << 24 | b << 16 | c << 8 | d; }

    public static String format(int ipv4) {
        return (ipv4 >>> 24) + "." + (ipv4 >>> 16 & 0xff) + "." + (ipv4 >>> 8 & 0xff) + "." + (ipv4 & 0xff);
    }

    /** The answer to one guest request. */
    byte[] answer(MmdsHttp.Request request) {
        Settings s = settings;
        String method = request.method();
        if (!method.equals("GET") && !method.equals("PUT")) {
            return MmdsHttp.response(405, "text/plain", "Not allowed HTTP method.", "Allow: GET, PUT\r\n");
        }
        String path = request.target();
        int query = path.indexOf('?');
        if (query >= 0) path = path.substring(0, query);
        if (method.equals("PUT")) return putToken(request, path);
        if (s.version() == Version.V2 && !tokens.valid(token(request))) {
            return text(401, "No MMDS token provided. Use `X-metadata-token` or `X-aws-ec2-metadata-token` header "
                    + "to specify the session token.");
        }
        String pointer = path.length() > 1 && path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
        if (pointer.equals("/")) pointer = "";
        if (pointer.contains("//")) return text(400, "Invalid path.");
        JsonNode value = store.at(pointer);
        if (value == null) return text(404, "Resource not found: " + path + ".");
        String accept = request.header("accept");
        if (!s.imdsCompat() && accept != null && accept.contains("application/json")) {
            return MmdsHttp.response(200, "application/json", value.toString(), "");
        }
        if (value.isTextual()) return text(200, value.textValue());
        if (value.isObject()) {
            StringBuilder keys = new StringBuilder();
            for (Iterator<String> it = value.fieldNames(); it.hasNext(); ) {
                String key = it.next();
                if (!keys.isEmpty()) keys.append('\n');
                keys.append(key);
                if (value.get(key).isObject()) keys.append('/');
            }
            return text(200, keys.toString());
        }
        return text(501, "Cannot retrieve value. The value has an invalid format.");
    }

    private byte[] putToken(MmdsHttp.Request request, String path) {
        if (!path.equals(TOKEN_PATH)) return text(400, "Invalid resource for PUT: " + path + ".");
        if (request.header("x-forwarded-for") != null) return text(400, "Invalid header. Reason: X-Forwarded-For is not allowed.");
        String ttl = request.header("x-metadata-token-ttl-seconds");
        if (ttl == null) ttl = request.header("x-aws-ec2-metadata-token-ttl-seconds");
        if (ttl == null) return text(400, "Token time to live value not found. Use `X-metadata-token-ttl-seconds` header.");
        long seconds;
        try {
            seconds = Long.parseLong(ttl);
        } catch (NumberFormatException e) {
            return text(400, "Invalid time to live value: " + ttl + ".");
        }
        if (seconds < MmdsTokens.MIN_TTL_SECONDS || seconds > MmdsTokens.MAX_TTL_SECONDS) {
            return text(400, "Invalid time to live value provided for token: " + seconds + ". Please provide a value between "
                    + MmdsTokens.MIN_TTL_SECONDS + " and " + MmdsTokens.MAX_TTL_SECONDS + ".");
        }
        return text(200, tokens.issue(seconds));
    }

    private static String token(MmdsHttp.Request request) {
        String token = request.header("x-metadata-token");
        return token != null ? token : request.header("x-aws-ec2-metadata-token");
    }

    private static byte[] text(int status, String body) {
        return MmdsHttp.response(status, "text/plain", body, "");
    }
}
