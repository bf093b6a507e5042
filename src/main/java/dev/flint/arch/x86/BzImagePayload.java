package dev.flint.arch.x86;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Optional;
import java.util.zip.GZIPInputStream;
import org.tukaani.xz.XZInputStream;

/**
 * Unpacks the vmlinux ELF image a bzImage carries as its compressed payload.
 *
 * <p>Why: a bzImage's own decompressor runs inside the guest. On hardware virtualization that costs a
 * fraction of a second, but on the emu engine it means interpreting a few billion instructions of xz
 * decoding before the kernel proper starts. Unpacking on the host and entering the ELF image through the
 * 64-bit boot protocol (as Firecracker does with vmlinux) skips that work; the kernel runs at its link
 * address, so the relocation table appended after the ELF is not needed.
 *
 * <p>Setup-header fields used (boot protocol 2.08+): setup_sects (0x1F1), payload_offset (0x248) and
 * payload_length (0x24C), both relative to the protected-mode code. The kernel build appends the
 * uncompressed size as a 32-bit little-endian trailer to the compressed stream.
 */
public final class BzImagePayload {
    private static final int SETUP_SECTS = 0x1F1;
    private static final int HEADER_MAGIC = 0x202;
    private static final int VERSION = 0x206;
    private static final int PAYLOAD_OFFSET = 0x248;
    private static final int PAYLOAD_LENGTH = 0x24C;
    /** An unpacked kernel is tens of MiB; refuse absurd trailers from a corrupt image. */
    private static final long MAX_UNPACKED = 512L << 20;

    private BzImagePayload() {}

    /** The compression formats a payload can use, by their leading magic bytes. */
    public enum Format { XZ, GZIP, UNSUPPORTED }

    /**
     * The vmlinux ELF inside {@code bzImage}, or empty if the image is not a bzImage with a payload this
     * class can unpack (then the caller falls back to the in-guest decompressor).
     *
     * @throws IOException if the payload claims a supported format but is corrupt
     */
    public static Optional<byte[]> unpack(byte[] bzImage) throws IOException {
        Optional<InputStream> payload = payload(bzImage);
        if (payload.isEmpty()) return Optional.empty();
        try (InputStream in = payload.get()) {
            byte[] elf = in.readNBytes((int) expectedSize(bzImage));
            if (elf.length != expectedSize(bzImage) || !isElf(elf)) {
                throw new IOException("bzImage payload did not unpack to an ELF image of " + expectedSize(bzImage) + " bytes");
            }
            return Optional.of(elf);
        }
    }

    /**
     * Writes the vmlinux in {@code bzImage} to {@code out} as it decompresses, so the image is never whole on
     * the heap (Debian's is 63 MiB: held as an array, it set the emu VMM's heap size). False if the image has
     * no payload this class can unpack.
     *
     * @throws IOException if the payload is corrupt or {@code out} fails
     */
    public static boolean unpackTo(byte[] bzImage, java.io.OutputStream out) throws IOException {
        Optional<InputStream> payload = payload(bzImage);
        if (payload.isEmpty()) return false;
        long expected = expectedSize(bzImage);
        try (InputStream in = payload.get()) {
            byte[] chunk = new byte[1 << 16];
            byte[] head = new byte[4];
            long written = 0;
            // Exactly the size the trailer states, as unpack reads it.
            for (int n; written < expected && (n = in.read(chunk, 0, (int) Math.min(chunk.length, expected - written))) > 0; ) {
                if (written < head.length) System.arraycopy(chunk, 0, head, (int) written, (int) Math.min(n, head.length - written));
                written += n;
                out.write(chunk, 0, n);
            }
            if (written != expected || !isElf(head)) {
                throw new IOException("bzImage payload did not unpack to an ELF image of " + expected + " bytes");
            }
            return true;
        }
    }

    private static boolean isElf(byte[] b) {
        return b.length >= 4 && b[0] == 0x7F && b[1] == 'E' && b[2] == 'L' && b[3] == 'F';
    }

    /** The uncompressed size the payload's trailer states (valid once {@link #payload} found one). */
    private static long expectedSize(byte[] bzImage) {
        ByteBuffer b = ByteBuffer.wrap(bzImage).order(ByteOrder.LITTLE_ENDIAN);
        int setupSects = bzImage[SETUP_SECTS] & 0xFF;
        if (setupSects == 0) setupSects = 4;
        long start = (setupSects + 1L) * 512 + Integer.toUnsignedLong(b.getInt(PAYLOAD_OFFSET));
        return Integer.toUnsignedLong(b.getInt((int) (start + Integer.toUnsignedLong(b.getInt(PAYLOAD_LENGTH)) - 4)));
    }

    /** The decompressing stream over the payload, or empty if there is none this class can unpack. */
    private static Optional<InputStream> payload(byte[] bzImage) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(bzImage).order(ByteOrder.LITTLE_ENDIAN);
        if (bzImage.length < 0x260 || b.getInt(HEADER_MAGIC) != 0x5372_6448 /* "HdrS" */
                || (b.getShort(VERSION) & 0xFFFF) < 0x208) {
            return Optional.empty();
        }
        int setupSects = bzImage[SETUP_SECTS] & 0xFF;
        if (setupSects == 0) setupSects = 4;
        long pmStart = (setupSects + 1L) * 512;
        long offset = pmStart + Integer.toUnsignedLong(b.getInt(PAYLOAD_OFFSET));
        long length = Integer.toUnsignedLong(b.getInt(PAYLOAD_LENGTH));
        if (length < 8 || offset + length > bzImage.length) return Optional.empty();
        int start = (int) offset;
        int streamLength = (int) length - 4; // minus the size trailer
        long expected = Integer.toUnsignedLong(b.getInt(start + streamLength));
        if (expected > MAX_UNPACKED) throw new IOException("bzImage payload claims " + expected + " bytes");

        Format format = formatOf(bzImage, start);
        if (format == Format.UNSUPPORTED) return Optional.empty();
        return Optional.of(open(format, new ByteArrayInputStream(bzImage, start, streamLength)));
    }

    static Format formatOf(byte[] image, int at) {
        if (at + 6 <= image.length && (image[at] & 0xFF) == 0xFD && image[at + 1] == '7' && image[at + 2] == 'z'
                && image[at + 3] == 'X' && image[at + 4] == 'Z' && image[at + 5] == 0) {
            return Format.XZ;
        }
        if (at + 2 <= image.length && (image[at] & 0xFF) == 0x1F && (image[at + 1] & 0xFF) == 0x8B) {
            return Format.GZIP;
        }
        return Format.UNSUPPORTED;
    }

    private static InputStream open(Format format, InputStream raw) throws IOException {
        return switch (format) {
            case XZ -> new XZInputStream(raw);
            case GZIP -> new GZIPInputStream(raw);
            case UNSUPPORTED -> throw new IllegalStateException();
        };
    }
}
