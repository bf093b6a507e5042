package dev.flint.cli;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
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
        // The handler passes INFO so a logger the user asked to hear (the boot timer) can be raised to it.
        handler.setLevel(debug ? Level.FINE : Level.INFO);
        root.setLevel(Level.WARNING);
        FLINT.setLevel(debug ? Level.FINE : Level.WARNING);
        root.addHandler(handler);
    }

    /** Lets {@code logger}'s INFO lines through without --debug: output the user asked for by a flag. */
    static void show(Class<?> source) {
        Logger logger = Logger.getLogger(source.getName());
        if (!logger.isLoggable(Level.INFO)) logger.setLevel(Level.INFO);
        SHOWN.add(logger);
    }

    /** Loggers raised by {@link #show}, held for the same reason as {@link #FLINT}. */
    private static final List<Logger> SHOWN = new CopyOnWriteArrayList<>();

    private static final class OneLine extends Formatter {
        private final boolean debug;

        OneLine(boolean debug) { this.debug = debug; }

        @Override
        public String format(LogRecord r) {
            StringBuilder sb = new StringBuilder("flint: ").append(r.getLevel().getName().toLowerCase()).append(": ");
            if (debug) sb.append('[').append(r.getLoggerName()).append("] ");
            sb.append(formatMessage(r));
            // Without --debug, a record with an exception still names it and where it came from, on the same line:
            // libraries (Jetty) log their failures as a bare message whose cause is all in the exception.
            if (!debug && r.getThrown() != null) sb.append(" (").append(firstLine(r.getThrown())).append(')');
            sb.append(lineEnd);
            if (debug && r.getThrown() != null) {
                StringWriter trace = new StringWriter();
                r.getThrown().printStackTrace(new PrintWriter(trace));
                sb.append(trace.toString().replace("\n", lineEnd));
            }
            return sb.toString();
        }

        /** The innermost cause's class and message, and the frame that threw it. */
        private static String firstLine(Throwable thrown) {
            Throwable root = thrown;
            for (int depth = 0; root.getCause() != null && root.getCause() != root && depth < 16; depth++) root = root.getCause();
            StackTraceElement[] frames = root.getStackTrace();
            return root + (frames.length > 0 ? " at " + frames[0] : "");
        }
    }
}
