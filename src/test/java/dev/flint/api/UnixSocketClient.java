package dev.flint.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.StringRequestContent;
import org.eclipse.jetty.io.Transport;

/**
 * The test's transport for the models generated from firecracker-api.yaml: Jetty's HTTP client over the
 * API's Unix socket. The generated clients of openapi-generator only speak TCP, so only the models are
 * generated; this class is the thin piece that carries them. Responses are read back into generated
 * models with unknown fields rejected, so an answer that strays from the spec fails the test.
 */
final class UnixSocketClient implements AutoCloseable {
    /** Firecracker's own mapper settings would drop nulls too: optional fields are omitted, not null. */
    static final ObjectMapper SPEC_JSON = JsonMapper.builder()
            .serializationInclusion(JsonInclude.Include.NON_NULL)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .build();

    private final HttpClient http = new HttpClient();
    private final Transport transport;

    /** One answer: status and raw body. */
    record Reply(int status, String body) {
        <T> T as(Class<T> type) {
            try {
                return SPEC_JSON.readValue(body, type);
            } catch (Exception e) {
                throw new AssertionError("answer does not match " + type.getSimpleName() + ": " + body, e);
            }
        }

        /** The fault_message of an error answer (parsed with the spec's Error model). */
        String fault() {
            return as(dev.flint.api.generated.model.Error.class).getFaultMessage();
        }
    }

    UnixSocketClient(Path socket) throws Exception {
        this.transport = new Transport.TCPUnix(socket);
        // Jetty closes a connection idle for 30 s by default, before the request's own timeout below: nested on
        // a loaded host, one answer took longer than that (a guest's network PUT under QEMU's TCG at load 25).
        http.setIdleTimeout(TimeUnit.MINUTES.toMillis(3));
        http.start();
    }

    Reply get(String path) throws Exception { return send("GET", path, null); }

    /** Sends a generated model (or any object) as JSON. */
    Reply send(String method, String path, Object model) throws Exception {
        return sendRaw(method, path, model == null ? null : SPEC_JSON.writeValueAsString(model));
    }

    /** Sends {@code body} exactly as given, for malformed input. */
    Reply sendRaw(String method, String path, String body) throws Exception {
        // One connection per request: a pooled connection idle past the server's own idle timeout (30 s) may be
        // closed by the server just as it is reused, and the request then fails with an EOF (seen nested, twice).
        Request request = http.newRequest("http://localhost" + path).transport(transport).method(method)
                .headers(h -> h.put(org.eclipse.jetty.http.HttpHeader.CONNECTION, "close"))
                .timeout(3, TimeUnit.MINUTES); // generous: nested, the VMM's JVM runs under QEMU's TCG
        if (body != null) request.body(new StringRequestContent("application/json", body));
        ContentResponse response = request.send();
        return new Reply(response.getStatus(), response.getContentAsString());
    }

    /**
     * Waits until {@code GET /} answers 200. The VMM's socket appears only once it listens (it is bound under a
     * temporary name and renamed into place), but a socket path too long for that name is bound in place, where
     * a connect can fall between bind() and listen(); a VMM that is loading a snapshot is also slow to serve.
     */
    void awaitAnswering(java.time.Duration within) throws Exception {
        dev.flint.testing.Await.until("the API answers", within, () -> {
            try {
                return get("/").status() == 200;
            } catch (Exception e) {
                return false;
            }
        });
    }

    @Override
    public void close() throws Exception { http.stop(); }
}
