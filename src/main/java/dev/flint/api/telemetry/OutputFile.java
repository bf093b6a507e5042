package dev.flint.api.telemetry;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A log or metrics destination: a regular file (appended to) or a named pipe. Opened read-write like
 * Firecracker does, because opening a FIFO write-only blocks until a reader shows up, and the API must
 * answer PUT /logger at once.
 */
final class OutputFile implements AutoCloseable {
    private final FileChannel channel;

    private OutputFile(FileChannel channel) { this.channel = channel; }

    static OutputFile open(Path path) throws IOException {
        FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        if (Files.isRegularFile(path)) channel.position(channel.size());
        return new OutputFile(channel);
    }

    /** Writes one whole line (the caller adds the newline). */
    synchronized void writeLine(byte[] line) throws IOException {
        ByteBuffer buffer = ByteBuffer.wrap(line);
        while (buffer.hasRemaining()) channel.write(buffer);
    }

    @Override
    public synchronized void close() throws IOException { channel.close(); }
}
