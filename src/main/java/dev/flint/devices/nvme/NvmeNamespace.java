package dev.flint.devices.nvme;

import dev.flint.devices.ratelimit.RateLimiter;
import dev.flint.devices.virtio.block.DiskImage;
import dev.flint.devices.virtio.block.DiskImageException;
import dev.flint.devices.virtio.block.DriveConfig;
import dev.flint.sys.ErrnoException;
import dev.flint.sys.FileHoles;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.logging.Logger;

/**
 * One namespace: a raw image (opened and locked as for virtio-blk) seen as 512-byte logical blocks, with a
 * namespace globally unique identifier the guest can tell it by. Deallocation punches holes in the image
 * when the file system can; otherwise it is a hint that changes nothing, which the namespace's identify
 * data allows (DLFEAT says nothing about what deallocated blocks read).
 */
final class NvmeNamespace implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(NvmeNamespace.class.getName());

    final int nsid;
    final DiskImage image;
    final byte[] nguid;
    final String serial;
    /** The drive's rate limit: every I/O command costs an op, reads and writes their bytes too. */
    final RateLimiter limiter;
    private final FileHoles holes;
    private boolean punchFailed;

    private NvmeNamespace(int nsid, DiskImage image, byte[] nguid, String serial, FileHoles holes, RateLimiter limiter) {
        this.nsid = nsid;
        this.limiter = limiter;
        this.image = image;
        this.nguid = nguid;
        this.serial = serial;
        this.holes = holes;
    }

    /**
     * Opens {@code drive} as namespace {@code nsid} of the controller with serial {@code controllerSerial};
     * a one-line {@link DiskImageException} if the image cannot be used.
     */
    static NvmeNamespace open(int nsid, DriveConfig drive, String controllerSerial) {
        DiskImage image = DiskImage.open(drive);
        FileHoles holes = null;
        if (!drive.readOnly()) {
            try {
                holes = FileHoles.open(drive.path().toString());
            } catch (ErrnoException e) {
                LOG.fine(() -> "no hole punching for " + drive.path() + ": " + e.getMessage());
            }
        }
        String serial = drive.serialOrDefault();
        return new NvmeNamespace(nsid, image, nguid(controllerSerial, serial, nsid), serial, holes,
                new RateLimiter(drive.rateLimit()));
    }

    /**
     * 16 bytes that differ between volumes: derived from the controller's serial, the volume's and the
     * namespace ID, so the same volume attached the same way keeps its identity across boots (Linux's
     * /dev/disk/by-id names stay) and two controllers never report the same one (Linux refuses
     * duplicates).
     */
    private static byte[] nguid(String controllerSerial, String volumeSerial, int nsid) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(("flint-nvme\0" + controllerSerial + "\0" + volumeSerial + "\0" + nsid).getBytes(StandardCharsets.UTF_8));
            return java.util.Arrays.copyOf(sha.digest(), 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is always present", e);
        }
    }

    long blocks() { return image.sectors(); }

    boolean readOnly() { return image.readOnly(); }

    /** True if {@code count} blocks from {@code lba} lie inside the namespace. */
    boolean inRange(long lba, long count) {
        return lba >= 0 && count >= 0 && lba <= blocks() && count <= blocks() - lba;
    }

    /** Deallocates the blocks if the host file system can; a no-op hint otherwise. */
    void deallocate(long lba, long count) {
        if (holes == null || punchFailed || count == 0) return;
        try {
            holes.punch(lba << NvmeSpec.LBA_SHIFT, count << NvmeSpec.LBA_SHIFT);
        } catch (ErrnoException e) {
            punchFailed = true; // e.g. EOPNOTSUPP: not this file system; deallocation stays a hint
            LOG.fine(() -> "nvme: deallocation becomes a hint for namespace " + nsid + ": " + e.getMessage());
        }
    }

    /** Reads exactly {@code dst.remaining()} bytes at block {@code lba}. */
    void read(ByteBuffer dst, long position) throws java.io.IOException { image.read(dst, position); }

    void write(ByteBuffer src, long position) throws java.io.IOException { image.write(src, position); }

    @Override
    public void close() {
        if (holes != null) holes.close();
        image.close();
    }
}
