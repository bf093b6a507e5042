package dev.flint.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.flint.api.generated.model.BootSource;
import dev.flint.api.generated.model.InstanceActionInfo;
import dev.flint.api.generated.model.Logger;
import dev.flint.api.generated.model.Metrics;
import java.io.BufferedReader;
import java.io.FileReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** PUT /logger and PUT /metrics: Firecracker's log line layout and JSON-lines metrics. */
class TelemetryTest extends ApiTestBase {
    private void start() throws Exception {
        assertEquals(204, api.client.send("PUT", "/boot-source", new BootSource().kernelImagePath(api.kernel.toString())).status());
        action(InstanceActionInfo.ActionTypeEnum.INSTANCE_START);
    }

    private void action(InstanceActionInfo.ActionTypeEnum type) throws Exception {
        var reply = api.client.send("PUT", "/actions", new InstanceActionInfo().actionType(type));
        assertEquals(204, reply.status(), reply.body());
    }

    @Test
    void logLinesFollowFirecrackersLayout() throws Exception {
        Path log = dir.resolve("flint.log");
        assertEquals(204, api.client.send("PUT", "/logger", new Logger().logPath(log.toString())
                .level(Logger.LevelEnum.INFO).showLevel(true)).status());
        start();
        String text = Files.readString(log);
        assertTrue(text.lines().anyMatch(l -> l.matches(
                "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{9} \\[test-vm:[^\\]]+:INFO\\] microVM test-vm started: .*")), text);
        assertEquals(400, api.client.sendRaw("PUT", "/logger", "{\"log_path\": \"" + log + "\", \"level\": \"Loud\"}").status());
    }

    @Test
    void loggerAcceptsANamedPipeWithoutAReader() throws Exception {
        Path fifo = dir.resolve("log.fifo");
        assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
        var reply = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r);
            t.setDaemon(true);
            return t;
        }).submit(() -> api.client.send("PUT", "/logger", new Logger().logPath(fifo.toString()).level(Logger.LevelEnum.INFO)))
                .get(10, TimeUnit.SECONDS);
        assertEquals(204, reply.status(), reply.body());
        start();
        try (BufferedReader reader = new BufferedReader(new FileReader(fifo.toFile()))) {
            assertTrue(reader.readLine().contains("[test-vm:"));
        }
    }

    @Test
    void metricsAreJsonLinesOfChangesSinceTheLastFlush() throws Exception {
        Path metrics = dir.resolve("metrics.json");
        assertEquals(400, api.client.send("PUT", "/actions",
                new InstanceActionInfo().actionType(InstanceActionInfo.ActionTypeEnum.FLUSH_METRICS)).status());
        assertEquals(204, api.client.send("PUT", "/metrics", new Metrics().metricsPath(metrics.toString())
                .emitId(true).properties(Map.of("tenant", "t1"))).status());
        var again = api.client.send("PUT", "/metrics", new Metrics().metricsPath(metrics.toString()));
        assertEquals("Reinitialization of metrics not allowed.", again.fault());
        start();
        action(InstanceActionInfo.ActionTypeEnum.FLUSH_METRICS);
        action(InstanceActionInfo.ActionTypeEnum.FLUSH_METRICS);

        List<JsonNode> lines = Files.readAllLines(metrics).stream().map(TelemetryTest::json).toList();
        assertEquals(2, lines.size());
        JsonNode first = lines.get(0);
        assertTrue(first.get("utc_timestamp_ms").asLong() > 1_600_000_000_000L);
        assertEquals("test-vm", first.get("id").asText());
        assertEquals("t1", first.get("properties").get("tenant").asText());
        assertEquals(2, first.get("put_api_requests").get("metrics_count").asLong());
        assertEquals(1, first.get("put_api_requests").get("metrics_fails").asLong());
        assertEquals(3, first.get("put_api_requests").get("actions_count").asLong());
        assertEquals(42, first.get("vcpu").get("exit_io_in").asLong());

        JsonNode second = lines.get(1);
        assertEquals(1, second.get("put_api_requests").get("actions_count").asLong(), "only the second flush itself");
        assertEquals(0, second.get("vcpu").get("exit_io_in").asLong(), "the fake VMM's counters did not move");
    }

    private static JsonNode json(String line) {
        try {
            return UnixSocketClient.SPEC_JSON.readTree(line);
        } catch (Exception e) {
            throw new AssertionError("not JSON: " + line, e);
        }
    }
}
