package dev.flint.api.telemetry;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Writes metrics as JSON lines to the file or FIFO of {@code PUT /metrics}, Firecracker style: one
 * object per flush, {@code utc_timestamp_ms} plus one nested object per group, each counter being the
 * change since the previous line. Flushes on request (FlushMetrics) and every 60 seconds.
 */
public final class MetricsOutput implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(MetricsOutput.class.getName());
    public static final long PERIOD_SECONDS = 60;

    private final OutputFile out;
    private final ObjectMapper json;
    private final Supplier<Map<String, Long>> counters;
    private final String instanceId;       // null unless emit_id
    private final Map<String, String> properties;
    private final Map<String, Long> lastReported = new HashMap<>();
    private final ScheduledExecutorService timer;

    private MetricsOutput(OutputFile out, ObjectMapper json, Supplier<Map<String, Long>> counters,
                          String instanceId, Map<String, String> properties) {
        this.out = out;
        this.json = json;
        this.counters = counters;
        this.instanceId = instanceId;
        this.properties = properties == null ? Map.of() : Map.copyOf(properties);
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "fc_metrics");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Opens {@code path} and starts the periodic flush.
     *
     * @param counters   cumulative "group.metric" counters to report (read at every flush)
     * @param instanceId written as a top-level "id" on every line, or null not to
     */
    public static MetricsOutput open(Path path, ObjectMapper json, Supplier<Map<String, Long>> counters,
                                     String instanceId, Map<String, String> properties) throws IOException {
        return open(path, json, counters, instanceId, properties, TimeUnit.SECONDS.toMillis(PERIOD_SECONDS));
    }

    static MetricsOutput open(Path path, ObjectMapper json, Supplier<Map<String, Long>> counters,
                              String instanceId, Map<String, String> properties, long periodMillis) throws IOException {
        MetricsOutput output = new MetricsOutput(OutputFile.open(path), json, counters, instanceId, properties);
        output.timer.scheduleAtFixedRate(output::periodicFlush, periodMillis, periodMillis, TimeUnit.MILLISECONDS);
        return output;
    }

    private void periodicFlush() {
        try {
            flush();
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "periodic metrics flush failed: " + e);
        }
    }

    /** Writes one line with the change of every counter since the previous line. */
    public synchronized void flush() throws IOException {
        ObjectNode line = json.createObjectNode();
        line.put("utc_timestamp_ms", System.currentTimeMillis());
        if (instanceId != null) line.put("id", instanceId);
        if (!properties.isEmpty()) line.set("properties", json.valueToTree(new TreeMap<>(properties)));
        for (Map.Entry<String, Long> counter : new TreeMap<>(counters.get()).entrySet()) {
            String name = counter.getKey();
            int dot = name.indexOf('.');
            String group = dot < 0 ? "flint" : name.substring(0, dot);
            String metric = name.substring(dot + 1);
            long previous = lastReported.getOrDefault(name, 0L);
            lastReported.put(name, counter.getValue());
            ObjectNode node = line.has(group) ? (ObjectNode) line.get(group) : line.putObject(group);
            node.put(metric, counter.getValue() - previous);
        }
        out.writeLine((json.writeValueAsString(line) + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    @Override
    public void close() throws IOException {
        timer.shutdownNow();
        out.close();
    }
}
