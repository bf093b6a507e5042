package dev.flint.cloud.fleet;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Copies of volume files. A reflink ({@code cp --reflink=always}: the FICLONE ioctl, on btrfs, XFS with
 * reflink, bcachefs...) shares the blocks copy-on-write and takes constant time; elsewhere the copy is a sparse
 * one ({@code cp --sparse=always}), whose time grows with the blocks in use. Which one happened is returned, so
 * a snapshot can say so in its description.
 */
public final class Snapshots {
    /** How a file was copied. */
    public enum Method {
        REFLINK("reflink"),
        COPY("sparse copy");

        private final String label;

        Method(String label) {
            this.label = label;
        }

        public String label() { return label; }
    }

    private Snapshots() {}

    /** Copies {@code source} to {@code target} (which must not exist), by reflink if the file system can. */
    public static Method cloneFile(Path source, Path target) throws IOException {
        if (run(List.of("cp", "--reflink=always", source.toString(), target.toString())) == null) return Method.REFLINK;
        java.nio.file.Files.deleteIfExists(target);
        String failure = run(List.of("cp", "--sparse=always", source.toString(), target.toString()));
        if (failure != null) throw new IOException(failure);
        return Method.COPY;
    }

    /** Runs {@code command}; null when it succeeded, else its last line of output. */
    private static String run(List<String> command) throws IOException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        byte[] output = process.getInputStream().readAllBytes();
        try {
            if (!process.waitFor(30, TimeUnit.MINUTES)) {
                process.destroyForcibly();
                return command.getFirst() + " did not finish";
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException(command.getFirst() + " interrupted");
        }
        if (process.exitValue() == 0) return null;
        String text = new String(output, StandardCharsets.UTF_8).strip();
        return String.join(" ", command) + " failed: " + text.lines().reduce((a, b) -> b).orElse("exit " + process.exitValue());
    }
}
