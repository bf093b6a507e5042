package dev.flint.api.telemetry;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.logging.ErrorManager;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Flint's log lines in Firecracker's layout, written to the file or FIFO of {@code PUT /logger} (or
 * {@code --log-path}): {@code TIMESTAMP [INSTANCE-ID:THREAD(:LEVEL)(:ORIGIN)] message}. Installed as a
 * java.util.logging handler on the root logger, so every Flint logger (and Jetty's, through SLF4J) ends
 * up here.
 */
public final class LogOutput extends Handler {
    private static final DateTimeFormatter TIMESTAMP =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.nnnnnnnnn").withZone(ZoneOffset.UTC);

    /** How a LoggerConfig asks for its output. */
    public record Settings(Path path, Level level, boolean showLevel, boolean showOrigin, String module) {}

    private final OutputFile out;
    private final String instanceId;
    private final Settings settings;

    private LogOutput(OutputFile out, String instanceId, Settings settings) {
        this.out = out;
        this.instanceId = instanceId;
        this.settings = settings;
        setLevel(settings.level());
    }

    /** Opens the destination and starts receiving every log record of the process. */
    public static LogOutput install(Settings settings, String instanceId) throws IOException {
        LogOutput handler = new LogOutput(OutputFile.open(settings.path()), instanceId, settings);
        Logger root = Logger.getLogger("");
        if (root.getLevel() == null || root.getLevel().intValue() > settings.level().intValue()) {
            root.setLevel(settings.level());
        }
        // The CLI holds Flint's own loggers ("dev.flint") at WARNING; the level asked for must reach them
        // too, or an Info logger would never hear Flint itself (the boot timer's line, for one).
        Logger flint = Logger.getLogger("dev.flint");
        if (flint.getLevel() != null && flint.getLevel().intValue() > settings.level().intValue()) {
            flint.setLevel(settings.level());
        }
        root.addHandler(handler);
        return handler;
    }

    /** Firecracker's level names (case-insensitive) as java.util.logging levels; null if unknown. */
    public static Level level(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "error" -> Level.SEVERE;
            case "warning", "warn" -> Level.WARNING;
            case "info" -> Level.INFO;
            case "debug" -> Level.FINE;
            case "trace" -> Level.FINEST;
            case "off" -> Level.OFF;
            default -> null;
        };
    }

    private static String levelName(Level level) {
        int v = level.intValue();
        if (v >= Level.SEVERE.intValue()) return "ERROR";
        if (v >= Level.WARNING.intValue()) return "WARN";
        if (v >= Level.INFO.intValue()) return "INFO";
        if (v >= Level.FINE.intValue()) return "DEBUG";
        return "TRACE";
    }

    @Override
    public void publish(LogRecord record) {
        if (!isLoggable(record)) return;
        if (settings.module() != null && (record.getLoggerName() == null
                || !record.getLoggerName().startsWith(settings.module()))) {
            return;
        }
        StringBuilder line = new StringBuilder(160)
                .append(TIMESTAMP.format(record.getInstant())).append(" [").append(instanceId)
                .append(':').append(Thread.currentThread().getName());
        if (settings.showLevel()) line.append(':').append(levelName(record.getLevel()));
        if (settings.showOrigin()) {
            line.append(':').append(record.getSourceClassName() != null ? record.getSourceClassName() : record.getLoggerName());
            if (record.getSourceMethodName() != null) line.append('.').append(record.getSourceMethodName());
        }
        String message = record.getMessage();
        if (record.getParameters() != null && record.getParameters().length > 0 && message != null) {
            message = java.text.MessageFormat.format(message, record.getParameters());
        }
        line.append("] ").append(message);
        if (record.getThrown() != null) line.append(": ").append(record.getThrown());
        line.append('\n');
        try {
            out.writeLine(line.toString().getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            reportError("log output failed", e, ErrorManager.WRITE_FAILURE);
        }
    }

    @Override
    public void flush() {}

    @Override
    public void close() {
        Logger.getLogger("").removeHandler(this);
        try {
            out.close();
        } catch (IOException e) {
            reportError("closing log output failed", e, ErrorManager.CLOSE_FAILURE);
        }
    }
}
