package dev.flint.cloud.fleet;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * Root volumes: an instance's own copy of its image, made sparse ({@code cp --sparse=always}) so a 2 GiB image
 * costs only its used blocks, grown to the asked size with {@code resize2fs} when bigger than the image.
 */
public final class Volumes {
    private static final Logger LOG = Logger.getLogger(Volumes.class.getName());
    static final long GIB = 1L << 30;

    private Volumes() {}

    /** Copies {@code image} to {@code volume} (through a temporary name, so a half copy is never taken for a volume). */
    public static void copy(Path image, Path volume, int sizeGib) throws IOException {
        Files.createDirectories(volume.getParent());
        Path partial = volume.resolveSibling(volume.getFileName() + ".partial");
        run(List.of("cp", "--sparse=always", "--reflink=auto", image.toString(), partial.toString()));
        long want = sizeGib * GIB;
        if (want > Files.size(partial)) {
            try (RandomAccessFile file = new RandomAccessFile(partial.toFile(), "rw")) {
                file.setLength(want);
            }
            run(List.of("resize2fs", "-f", partial.toString()));
        }
        Files.move(partial, volume, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    public static void delete(Path volume) {
        try {
            Files.deleteIfExists(volume);
        } catch (IOException e) {
            LOG.warning("cannot delete root volume " + volume + ": " + e.getMessage());
        }
    }

    private static void run(List<String> command) throws IOException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        byte[] output = process.getInputStream().readAllBytes();
        try {
            if (!process.waitFor(10, TimeUnit.MINUTES)) {
                process.destroyForcibly();
                throw new IOException(command.getFirst() + " did not finish");
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException(command.getFirst() + " interrupted");
        }
        if (process.exitValue() != 0) {
            String text = new String(output, java.nio.charset.StandardCharsets.UTF_8).strip();
            throw new IOException(String.join(" ", command) + " failed: " + text.lines().reduce((a, b) -> b).orElse("exit " + process.exitValue()));
        }
    }
}
