package dev.flint.arch.x86;

import dev.flint.machine.GuestMemory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A kernel or initrd file opened for loading, turning every I/O failure into a one-line
 * {@link BootException} that names the file.
 */
final class ImageFile implements AutoCloseable {
    final Path path;
    final String what;
    /** Exactly one of channel (a file on disk) and bytes (an image unpacked in memory) is set. */
    private final FileChannel channel;
    private final byte[] bytes;
    final long size;

    private ImageFile(Path path, String what, FileChannel channel, byte[] bytes, long size) {
        this.path = path;
        this.what = what;
        this.channel = channel;
        this.bytes = bytes;
        this.size = size;
    }

    /** An image that exists only in memory (e.g. vmlinux unpacked from a bzImage); {@code path} names its origin. */
    static ImageFile ofBytes(Path path, String what, byte[] bytes) {
        return new ImageFile(path, what, null, bytes, bytes.length);
    }

    /** The whole file; for images small enough to hold in memory (kernels). */
    byte[] readAll() {
        if (size > Integer.MAX_VALUE - 8) throw new BootException(what + " is too large: " + path);
        return read(0, (int) size);
    }

    static ImageFile open(Path path, String what) {
        if (Files.isDirectory(path)) throw new BootException(what + " is a directory, not a file: " + path);
        try {
            FileChannel ch = FileChannel.open(path, StandardOpenOption.READ);
            return new ImageFile(path, what, ch, null, ch.size());
        } catch (NoSuchFileException e) {
            throw new BootException(what + " not found: " + path);
        } catch (AccessDeniedException e) {
            throw new BootException("cannot read " + what + " (permission denied): " + path);
        } catch (IOException e) {
            throw new BootException("cannot read " + what + " " + path + ": " + e.getMessage(), e);
        }
    }

    /** Reads up to {@code len} bytes from {@code pos}; fewer if the file is shorter. */
    byte[] read(long pos, int len) {
        ByteBuffer buf = ByteBuffer.allocate((int) Math.max(0, Math.min(len, size - pos)));
        fill(buf, pos);
        return buf.array();
    }

    /** Copies {@code len} bytes from file offset {@code pos} into guest memory at {@code gpa}. */
    void copyTo(GuestMemory memory, long gpa, long pos, long len) {
        if (pos < 0 || len < 0 || pos + len > size) {
            throw new BootException(what + " is truncated (needs " + (pos + len) + " bytes, has " + size + "): " + path);
        }
        fill(memory.slice(gpa, len).asByteBuffer(), pos);
    }

    private void fill(ByteBuffer dst, long pos) {
        if (bytes != null) {
            dst.put(bytes, (int) pos, dst.remaining());
            return;
        }
        try {
            while (dst.hasRemaining()) {
                int n = channel.read(dst, pos);
                if (n < 0) throw new BootException(what + " shrank while being read: " + path);
                pos += n;
            }
        } catch (IOException e) {
            throw new BootException("cannot read " + what + " " + path + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        if (channel == null) return;
        try {
            channel.close();
        } catch (IOException ignored) {
            // read-only file: nothing to lose
        }
    }
}
