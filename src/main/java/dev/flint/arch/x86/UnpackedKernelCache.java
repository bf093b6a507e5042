package dev.flint.arch.x86;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;
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
    /** Notes naming the entry of a bzImage file ({@link #unpackAhead}). */
    private static final String ALIAS = ".alias";

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

    /**
     * Unpacks the bzImage at {@code kernel} into the cache now, if there is a cache and it lacks the image, and
     * notes which entry that file is ({@link #cachedFileFor}), so that the first boot on any engine enters the
     * vmlinux directly (kvm only ever uses what is cached). Not a bzImage, a payload Flint cannot unpack, or a
     * cache that cannot be written: nothing happens.
     *
     * @throws IOException if the file cannot be read or its payload is corrupt
     */
    public static void unpackAhead(Path kernel) throws IOException {
        Path dir = directory;
        if (dir == null) return;
        String key = fileKey(kernel);
        byte[] image = Files.readAllBytes(kernel);
        if (!BzImageLoader.matches(image)) return;
        Optional<Path> entry = unpackedFile(image);
        if (entry.isEmpty() || key == null) return;
        String name = entry.get().getFileName().toString();
        try {
            Path partial = Files.createTempFile(dir, "alias-", ".tmp");
            try {
                Files.writeString(partial, key + "\n" + name.substring(0, name.length() - SUFFIX.length()) + "\n");
                Files.move(partial, aliasOf(dir, key), StandardCopyOption.REPLACE_EXISTING);
            } finally {
                Files.deleteIfExists(partial);
            }
        } catch (IOException e) {
            log().log(Level.FINE, "unpacked kernel not noted in " + dir, e);
        }
    }

    /**
     * The cached vmlinux of the bzImage at {@code kernel}, if {@link #unpackAhead} noted it for this file as it
     * is now (same path, size and modification time); never reads the bzImage, never unpacks. Hashing the
     * image instead costs seconds of a cold JVM where it matters most (kvm nested under a software CPU).
     */
    static Optional<Path> cachedFileFor(Path kernel) {
        Path dir = directory;
        if (dir == null) return Optional.empty();
        try {
            String key = fileKey(kernel);
            if (key == null) return Optional.empty();
            List<String> lines = Files.readAllLines(aliasOf(dir, key));
            if (lines.size() != 2 || !lines.get(0).equals(key) || !lines.get(1).matches("[0-9a-f]{64}")) return Optional.empty();
            Path entry = dir.resolve(lines.get(1) + SUFFIX);
            return startsAsElf(entry) ? Optional.of(entry) : Optional.empty();
        } catch (IOException | RuntimeException notNoted) {
            return Optional.empty();
        }
    }

    /** The file's absolute path, size and modification time (ns) on one line; null for a path with a line break. */
    private static String fileKey(Path kernel) throws IOException {
        BasicFileAttributes a = Files.readAttributes(kernel, BasicFileAttributes.class);
        String path = kernel.toAbsolutePath().normalize().toString();
        if (path.indexOf('\n') >= 0 || path.indexOf('\r') >= 0) return null;
        return path + " " + a.size() + " " + a.lastModifiedTime().to(TimeUnit.NANOSECONDS);
    }

    /** The alias file of a key; its name is a hash, its first line the whole key (checked on every read). */
    private static Path aliasOf(Path dir, String key) {
        CRC32C crc = new CRC32C();
        crc.update(key.getBytes(StandardCharsets.UTF_8));
        return dir.resolve(String.format("%08x%08x", key.hashCode(), crc.getValue()) + ALIAS);
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
        // Notes whose image is gone go with it; a note that cannot be read or deleted only costs its file.
        try (DirectoryStream<Path> aliases = Files.newDirectoryStream(dir, "*" + ALIAS)) {
            for (Path alias : aliases) {
                try {
                    List<String> lines = Files.readAllLines(alias);
                    if (lines.size() != 2 || !Files.exists(dir.resolve(lines.get(1) + SUFFIX))) Files.deleteIfExists(alias);
                } catch (IOException | RuntimeException e) {
                    log().log(Level.FINE, "cannot check " + alias, e);
                }
            }
        } catch (IOException e) {
            log().log(Level.FINE, "cannot list the notes in " + dir, e);
        }
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
