package dev.flint.api.telemetry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flint.testing.Await;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetricsOutputTest {
    @TempDir
    Path dir;

    @Test
    void flushesOnItsOwnScheduleWithDeltasGroupedByPrefix() throws Exception {
        ObjectMapper json = new ObjectMapper();
        AtomicLong exits = new AtomicLong();
        Path file = dir.resolve("metrics.json");
        try (MetricsOutput out = MetricsOutput.open(file, json,
                () -> Map.of("vcpu.exit_hlt", exits.addAndGet(5), "block.read_bytes", 4096L), null, null, 30)) {
            Await.until("two metrics lines are flushed", () -> Files.readAllLines(file).size() >= 2);
        }
        List<String> lines = Files.readAllLines(file);
        assertTrue(lines.size() >= 2, lines.toString());
        JsonNode first = json.readTree(lines.get(0));
        JsonNode second = json.readTree(lines.get(1));
        assertEquals(5, first.get("vcpu").get("exit_hlt").asLong());
        assertEquals(5, second.get("vcpu").get("exit_hlt").asLong(), "the change since the last line, not the total");
        assertEquals(4096, first.get("block").get("read_bytes").asLong());
        assertEquals(0, second.get("block").get("read_bytes").asLong());
        assertTrue(second.get("utc_timestamp_ms").asLong() >= first.get("utc_timestamp_ms").asLong());
    }
}
