package dev.flint.cloud.compute;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Just enough HTTP/1.1 over a Unix socket to drive one {@code flint vmm} through the Firecracker API: one
 * request per connection ({@code Connection: close}), a JSON body in, the status and body out. The VMM is
 * Flint's own, so a small client is enough; a failure is one line naming the endpoint.
 */
final class FirecrackerClient {
    /** The largest response body kept: the API's answers are small JSON documents. */
    private static final int MAX_RESPONSE = 1 << 20;

    /** Far above what any API call takes, even InstanceStart on a loaded host. */
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(60);

    private final Path socket;

    FirecrackerClient(Path socket) {
        this.socket = socket;
    }

    record Response(int status, String body) {}

    /** Sends {@code PUT path} with {@code json}; throws unless the VMM answers 2xx. */
    void put(String path, String json) throws IOException {
        Response r = send("PUT", path, json);
        if (r.status / 100 != 2) throw new IOException("PUT " + path + ": HTTP " + r.status + " " + r.body.strip());
    }

    Response send(String method, String path, String json) throws IOException {
        byte[] body = json == null ? new byte[0] : json.getBytes(StandardCharsets.UTF_8);
        String head = method + " " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                + (json == null ? "" : "Content-Type: application/json\r\n")
                + "Content-Length: " + body.length + "\r\nAccept: application/json\r\n\r\n";
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            // A VMM that stops answering must not hold the caller: closing the channel ends a blocked read.
            Thread watchdog = Thread.ofVirtual().start(() -> {
                try {
                    Thread.sleep(REQUEST_TIMEOUT);
                    ch.close();
                } catch (InterruptedException | IOException e) {
                    // answered in time, or already closed
                }
            });
            try {
                return exchange(ch, method, path, head, body);
            } finally {
                watchdog.interrupt();
            }
        }
    }

    private Response exchange(SocketChannel ch, String method, String path, String head, byte[] body) throws IOException {
        {
            ch.connect(UnixDomainSocketAddress.of(socket));
            writeFully(ch, head.getBytes(StandardCharsets.US_ASCII));
            writeFully(ch, body);
            ByteArrayOutputStream in = new ByteArrayOutputStream();
            ByteBuffer buf = ByteBuffer.allocate(8192);
            while (ch.read(buf.clear()) > 0) {
                in.write(buf.array(), 0, buf.position());
                if (in.size() > MAX_RESPONSE) throw new IOException(method + " " + path + ": response too large");
                if (responseComplete(in.toByteArray())) break;
            }
            return parse(method, path, in.toString(StandardCharsets.UTF_8));
        }
    }

    /** Waits until the VMM serves its socket (it starts within seconds; far slower on a loaded host). */
    void awaitReady(Duration timeout, Process vmm) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        IOException last = null;
        while (System.nanoTime() < deadline) {
            if (vmm != null && !vmm.isAlive()) throw new IOException("the VMM exited (status " + vmm.exitValue() + ") before serving its API");
            if (Files.exists(socket)) {
                try {
                    send("GET", "/", null);
                    return;
                } catch (IOException e) {
                    last = e;
                }
            }
            Thread.sleep(50);
        }
        throw new IOException("the VMM did not serve " + socket + " within " + timeout.toSeconds() + " s"
                + (last == null ? "" : ": " + last.getMessage()));
    }

    private static void writeFully(SocketChannel ch, byte[] bytes) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) ch.write(b);
    }

    /** True once headers and Content-Length bytes of body are in (the server may keep the socket open). */
    private static boolean responseComplete(byte[] data) {
        String s = new String(data, StandardCharsets.ISO_8859_1);
        int end = s.indexOf("\r\n\r\n");
        if (end < 0) return false;
        int length = contentLength(s.substring(0, end));
        return length >= 0 && data.length >= end + 4 + length;
    }

    private static int contentLength(String headers) {
        for (String line : headers.split("\r\n")) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase("Content-Length")) {
                try {
                    return Integer.parseInt(line.substring(colon + 1).trim());
                } catch (NumberFormatException e) {
                    return -1;
                }
            }
        }
        return -1;
    }

    private static Response parse(String method, String path, String raw) throws IOException {
        int end = raw.indexOf("\r\n\r\n");
        String statusLine = raw.lines().findFirst().orElse("");
        String[] parts = statusLine.split(" ", 3);
        if (parts.length < 2 || !parts[0].startsWith("HTTP/1.")) throw new IOException(method + " " + path + ": no HTTP response");
        try {
            return new Response(Integer.parseInt(parts[1]), end < 0 ? "" : raw.substring(end + 4));
        } catch (NumberFormatException e) {
            throw new IOException(method + " " + path + ": bad status line " + statusLine);
        }
    }
}
