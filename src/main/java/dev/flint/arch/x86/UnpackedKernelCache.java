package dev.flint.arch.x86;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Keeps the vmlinux images {@link BzImagePayload} unpacks, on disk by the SHA-256 of their bzImage, so
 * a kernel is decompressed once per host rather than once per boot: xz-decoding Debian's kernel costs
 * about a second of host CPU, a large part of a software-CPU boot. Off until the command line layer
 * names a folder ({@link #useDirectory}); the newest {@link #KEPT} images are kept, older ones deleted.
 *
 * <p>An entry's name is the hash of what it was made from, written whole then renamed into place, so
 * a reader sees a complete image or none. A cache that cannot be read or written only costs the unpack.
 */
public final class UnpackedKernelCache {
    /**
     * Looked up when used, not held in a static field: `flint --help` initializes this class (for the cache
     * directory) and should not start java.util.logging for it (its start scans every jar for a logger finder).
     */
    private static Logger log() { return Logger.getLogger(UnpackedKernelCache.class.getName()); }
    /** Images kept: a couple of kernels in use at once; each is tens of MiB. */
    static final int KEPT = 3;
    private static final String SUFFIX = ".vmlinux";

    private static volatile Path directory;

    private UnpackedKernelCache() {}

    /** Caches unpacked kernels in {@code dir} from now on (null: no cache). */
    public static void useDirectory(Path dir) { directory = dir; }

    /** The vmlinux in {@code bzImage}, from the cache when it holds it; see {@link BzImagePayload#unpack}. */
    static Optional<byte[]> unpack(byte[] bzImage) throws IOException {
        Path dir = directory;
        if (dir == null) return BzImagePayload.unpack(bzImage);
        Path entry = dir.resolve(sha256(bzImage) + SUFFIX);
        try {
            byte[] cached = Files.readAllBytes(entry);
            if (isElf(cached)) return Optional.of(cached);
        } catch (IOException notCached) {
            // unpack below
        }
        Optional<byte[]> elf = BzImagePayload.unpack(bzImage);
        if (elf.isPresent()) store(dir, entry, elf.get());
        return elf;
    }

    /**
     * The cached file holding the vmlinux in {@code bzImage}, unpacked into the cache first if it is not
     * there yet (streamed: the image is never whole on the heap). Empty when there is no cache folder, the
     * image has no payload to unpack, or the cache cannot be written; the caller then uses {@link #unpack}.
     *
     * @throws IOException if the payload is corrupt
     */
    static Optional<Path> unpackedFile(byte[] bzImage) throws IOException {
        Path dir = directory;
        if (dir == null) return Optional.empty();
        Path entry = dir.resolve(sha256(bzImage) + SUFFIX);
        if (startsAsElf(entry)) return Optional.of(entry);
        Path partial;
        try {
            Files.createDirectories(dir);
            partial = Files.createTempFile(dir, "unpacking-", ".tmp");
        } catch (IOException e) {
            log().log(Level.FINE, "unpacked kernel not cached in " + dir, e);
            return Optional.empty();
        }
        try {
            boolean unpacked;
            try (var out = new java.io.BufferedOutputStream(Files.newOutputStream(partial), 1 << 16)) {
                unpacked = BzImagePayload.unpackTo(bzImage, out);
            }
            if (!unpacked) return Optional.empty();
            try {
                Files.move(partial, entry, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(partial, entry, StandardCopyOption.REPLACE_EXISTING);
            }
            evictOld(dir);
            return Optional.of(entry);
        } finally {
            Files.deleteIfExists(partial);
        }
    }

    private static boolean startsAsElf(Path file) {
        try (var in = Files.newInputStream(file)) {
            return isElf(in.readNBytes(4));
        } catch (IOException notCached) {
            return false;
        }
    }

    private static void store(Path dir, Path entry, byte[] elf) {
        try {
            Files.createDirectories(dir);
            Path partial = Files.createTempFile(dir, "unpacking-", ".tmp");
            try {
                Files.write(partial, elf);
                try {
                    Files.move(partial, entry, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(partial, entry, StandardCopyOption.REPLACE_EXISTING);
                }
            } finally {
                Files.deleteIfExists(partial);
            }
            evictOld(dir);
        } catch (IOException e) {
            log().log(Level.FINE, "unpacked kernel not cached in " + dir, e);
        }
    }

    /** Deletes all but the {@link #KEPT} most recently written images. */
    private static void evictOld(Path dir) throws IOException {
        List<Path> images = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir, "*" + SUFFIX)) {
            entries.forEach(images::add);
        }
        if (images.size() <= KEPT) return;
        images.sort(Comparator.comparing(UnpackedKernelCache::modified).reversed());
        for (Path old : images.subList(KEPT, images.size())) Files.deleteIfExists(old);
    }

    private static long modified(Path p) {
        try {
            return Files.getLastModifiedTime(p).toMillis();
        } catch (IOException e) {
            return 0; // gone already: first to go
        }
    }

    private static boolean isElf(byte[] b) {
        return b.length >= 4 && b[0] == 0x7F && b[1] == 'E' && b[2] == 'L' && b[3] == 'F';
    }

    private static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK always has SHA-256", e);
        }
    }
}
