package dev.flint.devices.mmds;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * HTTP/1.1 as the MMDS speaks it to guests: requests parsed from the bytes a TCP connection received so
 * far, answers written as bytes. Deliberately small and strict: a request line, headers, and a body only
 * with Content-Length; anything longer than {@link #MAX_REQUEST} is refused.
 */
final class MmdsHttp {
    /** Headers and body together; an MMDS request is a GET or a token PUT, a few hundred bytes. */
    static final int MAX_REQUEST = 16 * 1024;

    private MmdsHttp() {}

    /** One parsed request; header names are lower case. */
    record Request(String method, String target, String version, Map<String, String> headers, int length) {
        String header(String name) { return headers.get(name); }

        boolean wantsClose() {
            String c = headers.get("connection");
            return (c != null && c.toLowerCase(Locale.ROOT).contains("close")) || version.equals("HTTP/1.0");
        }
    }

    /** What the bytes so far hold: nothing complete yet, a request, or a request that cannot be served. */
    sealed interface Parse permits Incomplete, Parsed, Malformed {}

    record Incomplete() implements Parse {}

    record Parsed(Request request) implements Parse {}

    record Malformed(int status, String reason) implements Parse {}

    static Parse parse(byte[] buf, int len) {
        int headEnd = indexOf(buf, len, "\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        if (headEnd < 0) {
            return len >= MAX_REQUEST ? new Malformed(431, "request headers too large") : new Incomplete();
        }
        String head = new String(buf, 0, headEnd, StandardCharsets.ISO_8859_1);
        String[] lines = head.split("\r\n", -1);
        String[] requestLine = lines[0].split(" ", -1);
        if (requestLine.length != 3 || requestLine[0].isEmpty() || !requestLine[1].startsWith("/")) {
            return new Malformed(400, "malformed request line");
        }
        String version = requestLine[2];
        if (!version.equals("HTTP/1.1") && !version.equals("HTTP/1.0")) return new Malformed(400, "unsupported HTTP version");
        Map<String, String> headers = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon <= 0) return new Malformed(400, "malformed header line");
            String name = lines[i].substring(0, colon).strip().toLowerCase(Locale.ROOT);
            headers.put(name, lines[i].substring(colon + 1).strip());
        }
        if (headers.containsKey("transfer-encoding")) return new Malformed(501, "Transfer-Encoding is not supported");
        int bodyLength = 0;
        String declared = headers.get("content-length");
        if (declared != null) {
            try {
                bodyLength = Integer.parseInt(declared);
            } catch (NumberFormatException e) {
                return new Malformed(400, "bad Content-Length");
            }
            if (bodyLength < 0) return new Malformed(400, "bad Content-Length");
            if (bodyLength > MAX_REQUEST - headEnd - 4) return new Malformed(413, "request body too large");
        }
        int total = headEnd + 4 + bodyLength;
        if (len < total) return new Incomplete();
        return new Parsed(new Request(requestLine[0], requestLine[1], version, headers, total));
    }

    private static int indexOf(byte[] buf, int len, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= len; i++) {
            for (int j = 0; j < needle.length; j++) if (buf[i + j] != needle[j]) continue outer;
            return i;
        }
        return -1;
    }

    /** An answer with a text body (and extra header lines, each ending in CRLF). */
    static byte[] response(int status, String contentType, String body, String extraHeaders) {
        byte[] payload = body.getBytes(StandardCharsets.UTF_8);
        String head = "HTTP/1.1 " + status + " " + reason(status) + "\r\n"
                + "Server: Flint MMDS\r\n"
                + "Content-Type: " + contentType + "\r\n"
                + "Content-Length: " + payload.length + "\r\n"
                + extraHeaders + "\r\n";
        byte[] h = head.getBytes(StandardCharsets.US_ASCII);
        byte[] all = new byte[h.length + payload.length];
        System.arraycopy(h, 0, all, 0, h.length);
        System.arraycopy(payload, 0, all, h.length, payload.length);
        return all;
    }

    static String reason(int status) {
        return switch (status) {
            case 200 -> "OK";
            case 400 -> "Bad Request";
            case 401 -> "Unauthorized";
            case 404 -> "Not Found";
            case 405 -> "Method Not Allowed";
            case 413 -> "Payload Too Large";
            case 431 -> "Request Header Fields Too Large";
            case 501 -> "Not Implemented";
            default -> "Error";
        };
    }
}
