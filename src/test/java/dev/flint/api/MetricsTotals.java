package dev.flint.api;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * The counters of one metrics group summed over every line of a metrics file. Each line holds only the
 * changes since the line before, and Flint also writes a line on its own every minute (as Firecracker
 * does), so a single FlushMetrics line may hold only part of what happened; the sum holds all of it.
 */
final class MetricsTotals {
    private MetricsTotals() {}

    static Map<String, Long> of(Path metricsFile, String group) throws IOException {
        Map<String, Long> totals = new TreeMap<>();
        for (String line : Files.readAllLines(metricsFile)) {
            JsonNode counters = UnixSocketClient.SPEC_JSON.readTree(line).path(group);
            counters.properties().forEach(e -> {
                if (e.getValue().isIntegralNumber()) totals.merge(e.getKey(), e.getValue().asLong(), Long::sum);
            });
        }
        return totals;
    }
}
