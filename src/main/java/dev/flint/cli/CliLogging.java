package dev.flint.cli;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.StreamHandler;

/**
 * Log lines for a command-line user: "flint: warning: ..." on stderr, warnings and worse only; with
 * {@code --debug} everything from FINE up, with logger names and stack traces.
 */
final class CliLogging {
    private CliLogging() {}

    /** While the console is in raw mode the terminal does not turn "\n" into a new line by itself. */
    static volatile String lineEnd = "\n";

    /** Held so the level set on it survives (the JDK keeps loggers only weakly). */
    private static final Logger FLINT = Logger.getLogger("dev.flint");

    static void configure(PrintStream err, boolean debug) {
        Logger root = Logger.getLogger("");
        for (Handler h : root.getHandlers()) root.removeHandler(h);
        Handler handler = new StreamHandler(err, new OneLine(debug)) {
            @Override
            public synchronized void publish(LogRecord record) {
                super.publish(record);
                flush();
            }
        };
        // --debug details Flint's own logging; the JDK's stays at warnings.
        handler.setLevel(debug ? Level.FINE : Level.WARNING);
        root.setLevel(Level.WARNING);
        FLINT.setLevel(debug ? Level.FINE : Level.WARNING);
        root.addHandler(handler);
    }

    private static final class OneLine extends Formatter {
        private final boolean debug;

        OneLine(boolean debug) { this.debug = debug; }

        @Override
        public String format(LogRecord r) {
            StringBuilder sb = new StringBuilder("flint: ").append(r.getLevel().getName().toLowerCase()).append(": ");
            if (debug) sb.append('[').append(r.getLoggerName()).append("] ");
            sb.append(formatMessage(r)).append(lineEnd);
            if (debug && r.getThrown() != null) {
                StringWriter trace = new StringWriter();
                r.getThrown().printStackTrace(new PrintWriter(trace));
                sb.append(trace.toString().replace("\n", lineEnd));
            }
            return sb.toString();
        }
    }
}
