package dev.flint.cloud.compute;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * An instance's serial console as files the VMM keeps open, so that it survives daemon restarts: the VMM's
 * stdin is the FIFO {@code console.in} (which the VMM opens read-write, so it never sees end of input when
 * no one types) and its stdout is appended to {@code console.log}. An attachment types into the FIFO and
 * follows the log from near its end (the last few KiB, so the user sees the current prompt).
 */
final class SerialConsole implements InstanceRuntime.ConsoleAttachment {
    private static final Logger LOG = Logger.getLogger(SerialConsole.class.getName());
    static final String INPUT = "console.in";
    static final String OUTPUT = "console.log";
    /** What a new attachment shows of what the guest printed before. */
    private static final int BACKLOG = 4096;
    private static final Duration POLL = Duration.ofMillis(50);

    private final Path log;
    private final FileOutputStream input;
    private final Consumer<byte[]> output;
    private final BooleanSupplier instanceRuns;
    private final Thread follower;
    private volatile boolean closed;

    private SerialConsole(Path dir, FileOutputStream input, Consumer<byte[]> output, BooleanSupplier instanceRuns) {
        this.log = dir.resolve(OUTPUT);
        this.input = input;
        this.output = output;
        this.instanceRuns = instanceRuns;
        this.follower = Thread.ofPlatform().daemon().name("serial-console-" + dir.getFileName()).unstarted(this::follow);
    }

    /** Makes the FIFO an instance's VMM will read its console input from (before the VMM starts). */
    static void prepare(Path dir) throws IOException, InterruptedException {
        Path fifo = dir.resolve(INPUT);
        Files.deleteIfExists(fifo);
        Process mkfifo = new ProcessBuilder("mkfifo", "-m", "600", fifo.toString()).redirectErrorStream(true).start();
        String out = new String(mkfifo.getInputStream().readAllBytes());
        if (!mkfifo.waitFor(30, TimeUnit.SECONDS) || mkfifo.exitValue() != 0) {
            throw new IOException("mkfifo " + fifo + " failed: " + out.strip());
        }
    }

    /**
     * Attaches to the console in {@code dir}. The FIFO has a reader (the VMM), so opening it for writing
     * does not block; a VMM from before consoles existed has no FIFO, and then there is nothing to attach to.
     */
    static SerialConsole attach(Path dir, Consumer<byte[]> output, BooleanSupplier instanceRuns) throws IOException {
        Path fifo = dir.resolve(INPUT);
        if (!Files.exists(fifo)) throw new IOException("instance has no console input at " + fifo);
        SerialConsole console = new SerialConsole(dir, new FileOutputStream(fifo.toFile()), output, instanceRuns);
        console.follower.start();
        return console;
    }

    @Override
    public void write(byte[] keys) {
        if (closed) return;
        try {
            input.write(keys);
            input.flush();
        } catch (IOException e) {
            LOG.log(Level.FINE, "console input lost: " + e.getMessage(), e);
        }
    }

    /** Sends what the log gains to the consumer; starts over if the log was cut back (the runtime trims it). */
    private void follow() {
        long offset = -1;
        byte[] buffer = new byte[16 * 1024];
        try {
            while (!closed && instanceRuns.getAsBoolean()) {
                try (RandomAccessFile file = new RandomAccessFile(log.toFile(), "r")) {
                    long size = file.length();
                    if (offset < 0 || size < offset) offset = Math.max(0, size - BACKLOG);
                    file.seek(offset);
                    for (int n; !closed && (n = file.read(buffer)) > 0; ) {
                        offset += n;
                        output.accept(java.util.Arrays.copyOf(buffer, n));
                    }
                } catch (IOException e) {
                    LOG.log(Level.FINE, "console log unreadable: " + e.getMessage(), e);
                }
                Thread.sleep(POLL);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        closed = true;
        follower.interrupt();
        try {
            input.close();
        } catch (IOException ignored) {
            // detaching; nothing to report
        }
    }
}
