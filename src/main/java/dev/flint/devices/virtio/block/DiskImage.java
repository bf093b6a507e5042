package dev.flint.devices.virtio.block;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.file.StandardOpenOption;

/**
 * An open raw image: positional reads and writes, flush, and an advisory lock that keeps a second VMM
 * (or a second device in this one) from writing the same file: exclusive for a writable image, shared
 * for a read-only one, so readers may share but never alongside a writer.
 */
public final class DiskImage implements AutoCloseable {
    public static final int SECTOR = 512;

    private final FileChannel channel;
    private final FileLock lock;
    private volatile long sectors; // grows when the host grew the file and the device re-read it (refreshSize)
    private final boolean readOnly;
    private final String path;
    private IoBatch batch; // made by the I/O thread on first use
    private boolean hostErrorLogged;

    private DiskImage(FileChannel channel, FileLock lock, long sectors, boolean readOnly, String path) {
        this.path = path;
        this.channel = channel;
        this.lock = lock;
        this.sectors = sectors;
        this.readOnly = readOnly;
    }

    /** Opens and locks the image; every failure is a {@link DiskImageException} with a one-line message. */
    public static DiskImage open(DriveConfig drive) {
        String path = drive.path().toString();
        FileChannel channel;
        try {
            channel = drive.readOnly()
                    ? FileChannel.open(drive.path(), StandardOpenOption.READ)
                    : FileChannel.open(drive.path(), StandardOpenOption.READ, StandardOpenOption.WRITE);
        } catch (NoSuchFileException e) {
            throw new DiskImageException("disk image not found: " + path);
        } catch (AccessDeniedException e) {
            throw new DiskImageException("disk image not " + (drive.readOnly() ? "readable" : "writable (add ,ro to share it read-only)") + ": " + path);
        } catch (IOException e) {
            throw new DiskImageException("cannot open disk image " + path + ": " + e.getMessage());
        }
        try {
            FileLock lock;
            try {
                lock = channel.tryLock(0, Long.MAX_VALUE, drive.readOnly());
            } catch (OverlappingFileLockException e) {
                lock = null; // held by this JVM
            }
            if (lock == null) {
                channel.close();
                throw new DiskImageException("disk image is in use by another VM (locked): " + path);
            }
            long size = channel.size();
            if (size < SECTOR) {
                channel.close();
                throw new DiskImageException("disk image is smaller than one 512-byte sector: " + path);
            }
            return new DiskImage(channel, lock, size / SECTOR, drive.readOnly(), path);
        } catch (IOException e) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // already failing
            }
            throw new DiskImageException("cannot lock disk image " + path + ": " + e.getMessage());
        }
    }

    public long sectors() { return sectors; }

    /**
     * Re-reads the file's size after the host grew it (an EBS ModifyVolume) and returns the sectors now. A
     * file that became smaller keeps the old size and is refused: blocks the guest was told of cannot vanish.
     */
    public long refreshSize() {
        long size;
        try {
            size = channel.size();
        } catch (IOException e) {
            throw new DiskImageException("cannot read the size of disk image " + path + ": " + e.getMessage());
        }
        long now = size / SECTOR;
        if (now < sectors) {
            throw new DiskImageException("disk image " + path + " shrank from " + sectors + " to " + now + " sectors; only growing is supported");
        }
        sectors = now;
        return now;
    }

    /**
     * This image's batch of reads and writes (io_uring where the host allows it); for the device's I/O
     * thread only, which is the one thread that ever uses it.
     */
    public IoBatch batch() {
        if (batch == null) batch = new IoBatch(this, path, !readOnly);
        return batch;
    }

    /** Logs a host I/O failure once per image (the guest sees an I/O error status each time). */
    void hostError(IOException e) {
        if (!hostErrorLogged) LOG.warning("disk image " + path + ": I/O failed: " + e.getMessage() + " (reported to the guest as an I/O error)");
        hostErrorLogged = true;
    }

    private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger(DiskImage.class.getName());
    public boolean readOnly() { return readOnly; }

    /** Reads exactly {@code dst.remaining()} bytes at {@code position} (the caller checked the range). */
    public void read(ByteBuffer dst, long position) throws IOException {
        while (dst.hasRemaining()) {
            int n = channel.read(dst, position);
            if (n < 0) throw new IOException("unexpected end of image");
            position += n;
        }
    }

    public void write(ByteBuffer src, long position) throws IOException {
        if (readOnly) throw new IOException("read-only image");
        while (src.hasRemaining()) position += channel.write(src, position);
    }

    private static final ByteBuffer ZEROES = ByteBuffer.allocateDirect(1 << 20).asReadOnlyBuffer();

    /** Writes {@code length} zero bytes at {@code position}. */
    public void writeZeroes(long position, long length) throws IOException {
        for (long done = 0; done < length; ) {
            ByteBuffer chunk = ZEROES.duplicate().limit((int) Math.min(ZEROES.capacity(), length - done));
            write(chunk, position + done);
            done += chunk.limit();
        }
    }

    /** Makes written data durable (fdatasync). */
    public void flush() throws IOException {
        if (!readOnly) channel.force(false);
    }

    @Override
    public void close() {
        try {
            if (lock.isValid()) lock.release();
            channel.close();
        } catch (IOException ignored) {
            // closing: nothing left to do with the file
        }
        IoBatch b = batch;
        if (b != null) b.close(); // last: closing its descriptor would drop the lock
        batch = null;
    }
}
