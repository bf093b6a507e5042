package dev.flint.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;

/**
 * Requests one after another on kept-alive connections, as Firecracker's clients send them. Every request must
 * get its answer and Jetty must never report a request cycle it could not finish.
 *
 * <p>The failure this guards against: an answer completed on a pool thread while the selector thread was still
 * returning from the handler. Jetty 12.1 then finished the request's stream twice when the answer had no body
 * (204): once from the handler's return, once from the last write's callback. The second completion threw inside
 * Jetty's serialized invoker ("Serialized invocation error"; under -ea an AssertionError in
 * HttpChannelState$LastWriteCallback) and the connection's next request was never answered, until the idle
 * timeout closed it (ApiGuestBootTest's PUT /machine-config, once). Each 204 is a separate chance of that race;
 * a few thousand of them on four connections hit it within seconds on a 2-core machine before the fix.
 */
class ApiKeepAliveTest extends ApiTestBase {
    private static final int CONNECTIONS = 4;
    private static final int REQUESTS_PER_CONNECTION = 1500;

    @Test
    void everyRequestOnAKeptAliveConnectionIsAnsweredAndJettyReportsNoBrokenCycle() throws Exception {
        Logger invoker = Logger.getLogger("org.eclipse.jetty.util.thread.SerializedInvoker");
        ConcurrentLinkedQueue<String> jettyErrors = new ConcurrentLinkedQueue<>();
        Handler watch = new Handler() {
            @Override
            public void publish(LogRecord record) {
                if (record.getLevel().intValue() >= Level.WARNING.intValue()) {
                    jettyErrors.add(record.getMessage() + (record.getThrown() == null ? "" : ": " + record.getThrown()));
                }
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
        invoker.addHandler(watch);
        ExecutorService clients = Executors.newFixedThreadPool(CONNECTIONS);
        try {
            List<Future<String>> runs = new ArrayList<>();
            for (int c = 0; c < CONNECTIONS; c++) runs.add(clients.submit(this::requestsInARow));
            for (Future<String> run : runs) {
                // Generous: each answer is a few hundred microseconds; a stuck one waits out the server's 30 s.
                assertEquals("", run.get(5, TimeUnit.MINUTES));
                assertTrue(jettyErrors.isEmpty(), "Jetty reported: " + jettyErrors);
            }
        } finally {
            clients.shutdownNow();
            invoker.removeHandler(watch);
        }
        assertTrue(jettyErrors.isEmpty(), "Jetty reported: " + jettyErrors);
        assertEquals(CONNECTIONS * REQUESTS_PER_CONNECTION / 2,
                api.vmm.metrics().get("put_api_requests.machine_cfg_count"), "every PUT reached the controller");
    }

    /** One connection's requests; "" when all were answered as expected, else what went wrong. */
    private String requestsInARow() throws IOException {
        byte[] body = "{\"vcpu_count\": 1, \"mem_size_mib\": 128}".getBytes(StandardCharsets.US_ASCII);
        byte[] put = ("PUT /machine-config HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + body.length + "\r\n\r\n" + new String(body, StandardCharsets.US_ASCII))
                .getBytes(StandardCharsets.US_ASCII);
        byte[] get = "GET /machine-config HTTP/1.1\r\nHost: localhost\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
        try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(api.socket))) {
            InputStream in = Channels.newInputStream(channel);
            for (int i = 0; i < REQUESTS_PER_CONNECTION; i++) {
                boolean isPut = i % 2 == 0;
                channel.write(ByteBuffer.wrap(isPut ? put : get));
                int status;
                try {
                    status = readStatusAndBody(in);
                } catch (EOFException e) {
                    return "request " + i + " (" + (isPut ? "PUT" : "GET") + ") got no answer: the server closed the connection";
                }
                int expected = isPut ? 204 : 200;
                if (status != expected) return "request " + i + " answered " + status + ", not " + expected;
            }
        }
        return "";
    }

    /** Reads one response (status line, headers, Content-Length body) and returns its status. */
    private static int readStatusAndBody(InputStream in) throws IOException {
        String head = readHead(in);
        int status = Integer.parseInt(head.substring(9, 12));
        long length = 0;
        for (String line : head.split("\r\n")) {
            if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) length = Long.parseLong(line.substring(15).strip());
        }
        if (in.readNBytes((int) length).length != length) throw new EOFException("body cut short");
        return status;
    }

    private static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int matched = 0;
        while (matched < 4) {
            int b = in.read();
            if (b < 0) throw new EOFException("connection closed after " + head.size() + " bytes of a response head");
            head.write(b);
            matched = (b == (matched % 2 == 0 ? '\r' : '\n')) ? matched + 1 : (b == '\r' ? 1 : 0);
        }
        return head.toString(StandardCharsets.US_ASCII);
    }
}
