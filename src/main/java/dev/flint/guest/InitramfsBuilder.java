package dev.flint.guest;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.GZIPOutputStream;

/**
 * Builds a Linux initramfs: a cpio archive in the "newc" format (the one the kernel unpacks into its
 * rootfs), gzip-compressed. Written in Java so building a guest needs no cpio binary on the host.
 *
 * <p>Paths are absolute guest paths ("/bin/busybox"); missing parent directories are added with mode
 * 0755. Entries keep insertion order, parents before children, which is the order the kernel needs.
 * Timestamps and owners are zero so the same inputs always give the same archive.
 */
public final class InitramfsBuilder {
    private static final int S_IFDIR = 0040000, S_IFREG = 0100000, S_IFLNK = 0120000, S_IFCHR = 0020000;
    private static final String TRAILER = "TRAILER!!!";

    /** One archive member; {@code data} is null for directories and device nodes. */
    private record Entry(String name, int mode, byte[] data, Path source, int rdevMajor, int rdevMinor) {}

    private final Map<String, Entry> entries = new LinkedHashMap<>();

    public InitramfsBuilder directory(String path, int permissions) {
        add(new Entry(name(path), S_IFDIR | (permissions & 07777), null, null, 0, 0));
        return this;
    }

    public InitramfsBuilder file(String path, byte[] content, int permissions) {
        add(new Entry(name(path), S_IFREG | (permissions & 07777), content.clone(), null, 0, 0));
        return this;
    }

    public InitramfsBuilder file(String path, String content, int permissions) {
        return file(path, content.getBytes(StandardCharsets.UTF_8), permissions);
    }

    /** A file whose content is read from the host file {@code source} when the archive is written. */
    public InitramfsBuilder file(String path, Path source, int permissions) {
        add(new Entry(name(path), S_IFREG | (permissions & 07777), null, source, 0, 0));
        return this;
    }

    public InitramfsBuilder symlink(String path, String target) {
        add(new Entry(name(path), S_IFLNK | 0777, target.getBytes(StandardCharsets.UTF_8), null, 0, 0));
        return this;
    }

    public InitramfsBuilder charDevice(String path, int permissions, int major, int minor) {
        add(new Entry(name(path), S_IFCHR | (permissions & 07777), null, null, major, minor));
        return this;
    }

    /** Writes the gzip-compressed archive to {@code target}, atomically (a reader never sees half a file). */
    public void write(Path target) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, target.getFileName().toString(), ".tmp");
        try {
            try (OutputStream out = new GZIPOutputStream(new BufferedOutputStream(Files.newOutputStream(tmp)), 1 << 16)) {
                writeCpio(out);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Writes the uncompressed cpio archive. */
    public void writeCpio(OutputStream out) throws IOException {
        int inode = 1;
        for (Entry e : entries.values()) {
            byte[] data = e.source != null ? Files.readAllBytes(e.source) : e.data;
            writeMember(out, e.name, inode++, e.mode, isDirectory(e) ? 2 : 1, data, e.rdevMajor, e.rdevMinor);
        }
        writeMember(out, TRAILER, 0, 0, 1, null, 0, 0);
    }

    private void add(Entry entry) {
        String parent = parentOf(entry.name);
        if (parent != null && !entries.containsKey(parent)) directory("/" + parent, 0755);
        Entry previous = entries.get(entry.name);
        if (previous != null && !(isDirectory(previous) && isDirectory(entry))) {
            throw new IllegalArgumentException("initramfs already has " + entry.name);
        }
        entries.put(entry.name, entry);
    }

    private static boolean isDirectory(Entry e) {
        return (e.mode & 0170000) == S_IFDIR;
    }

    /** Archive names are relative ("bin/busybox"): that is what the kernel and cpio(1) expect. */
    private static String name(String path) {
        if (!path.startsWith("/") || path.endsWith("/") || path.contains("//") || path.contains("/../")
                || path.endsWith("/..") || path.contains("/./")) {
            throw new IllegalArgumentException("initramfs paths must be absolute and normal: " + path);
        }
        return path.substring(1);
    }

    private static String parentOf(String name) {
        int slash = name.lastIndexOf('/');
        return slash < 0 ? null : name.substring(0, slash);
    }

    private static void writeMember(OutputStream out, String name, int inode, int mode, int nlink, byte[] data,
                                    int rdevMajor, int rdevMinor) throws IOException {
        byte[] nameBytes = (name + "\0").getBytes(StandardCharsets.UTF_8);
        int size = data == null ? 0 : data.length;
        StringBuilder header = new StringBuilder(110).append("070701");
        for (long field : new long[] {inode, mode, 0, 0, nlink, 0, size, 0, 0, rdevMajor, rdevMinor, nameBytes.length, 0}) {
            header.append(String.format("%08x", field));
        }
        out.write(header.toString().getBytes(StandardCharsets.US_ASCII));
        out.write(nameBytes);
        pad(out, 110 + nameBytes.length);
        if (data != null) {
            out.write(data);
            pad(out, size);
        }
    }

    /** newc aligns every header and every file body to 4 bytes. */
    private static void pad(OutputStream out, long written) throws IOException {
        int padding = (int) ((4 - (written & 3)) & 3);
        for (int i = 0; i < padding; i++) out.write(0);
    }
}
