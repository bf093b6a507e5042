package dev.flint.devices.virtio.block;

import dev.flint.devices.ratelimit.BucketConfig;
import dev.flint.devices.ratelimit.RateLimit;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.regex.Pattern;

/**
 * A block device's backing file as the user gave it:
 * {@code --drive PATH[,ro][,if=virtio|nvme|vhost-user][,serial=ID][,bandwidth=SIZE/MS[/BURST]][,ops=SIZE/MS[/BURST]]}.
 * With {@code if=vhost-user} the path is a vhost-user-blk back end's Unix socket, not an image.
 *
 * @param path      a raw disk image (no format header: sector N is at byte N * 512)
 * @param readOnly  the guest sees a read-only disk and the file is opened for reading only
 * @param iface     how the guest sees it: a virtio-blk function, or a namespace of an NVMe controller
 * @param serial    the serial number the guest reads (virtio-blk GET_ID, NVMe Identify), or null for the
 *                  default (the image's file name); printable ASCII, at most 20 bytes
 * @param rateLimit the drive's rate limiter (Firecracker's drive {@code rate_limiter}): bytes read or written
 *                  and requests; {@link RateLimit#NONE} for none. An NVMe drive's limit is its namespace's.
 */
public record DriveConfig(Path path, boolean readOnly, Interface iface, String serial, RateLimit rateLimit) {
    /** The bus a drive appears on. */
    public enum Interface {
        VIRTIO, NVME, VHOST_USER;

        /** The name {@code if=} takes. */
        public String option() { return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'); }
    }

    public static final int MAX_SERIAL = 20;
    private static final Pattern SERIAL = Pattern.compile("[\\x21-\\x7E]([\\x20-\\x7E]{0,18}[\\x21-\\x7E])?");
    private static final String OPTIONS = "ro, if=virtio|nvme|vhost-user, serial=ID, bandwidth=SIZE/MS[/BURST], ops=SIZE/MS[/BURST]";

    public DriveConfig {
        if (path == null) throw new IllegalArgumentException("--drive needs a path");
        if (iface == null) iface = Interface.VIRTIO;
        rateLimit = RateLimit.orNone(rateLimit);
        if (iface == Interface.VHOST_USER && rateLimit.limits()) {
            // The back end, in another process, does the I/O: Flint's device never sees the requests to pace.
            throw new IllegalArgumentException("a vhost-user drive cannot have a rate limit (its back end does the I/O): " + path);
        }
        if (serial != null && !SERIAL.matcher(serial).matches()) {
            throw new IllegalArgumentException("drive serial must be 1 to " + MAX_SERIAL
                    + " printable ASCII characters without leading or trailing spaces: '" + serial + "'");
        }
    }

    /** A drive without a rate limit. */
    public DriveConfig(Path path, boolean readOnly, Interface iface, String serial) {
        this(path, readOnly, iface, serial, RateLimit.NONE);
    }

    /** A virtio-blk drive with the default serial. */
    public DriveConfig(Path path, boolean readOnly) {
        this(path, readOnly, Interface.VIRTIO, null);
    }

    /** The serial the guest reads: the given one, else the image's file name cut to 20 bytes. */
    public String serialOrDefault() {
        if (serial != null) return serial;
        String name = path.getFileName() == null ? "disk" : path.getFileName().toString();
        byte[] ascii = name.replaceAll("[^\\x21-\\x7E]", "_").getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        return new String(Arrays.copyOf(ascii, Math.min(ascii.length, MAX_SERIAL)), java.nio.charset.StandardCharsets.US_ASCII);
    }

    /**
     * Parses {@code PATH[,ro][,if=virtio|nvme][,serial=ID]}; the message of the IllegalArgumentException is
     * one line for the user. The last comma-separated part is always read as an option, and so are the
     * known options before it, so a path may itself contain commas.
     */
    public static DriveConfig parse(String spec) {
        if (spec == null || spec.isBlank()) throw new IllegalArgumentException("--drive needs a path: --drive PATH[,ro][,if=virtio|nvme]");
        Deque<String> parts = new ArrayDeque<>(Arrays.asList(spec.split(",", -1)));
        Deque<String> options = new ArrayDeque<>();
        if (parts.size() > 1) options.addFirst(parts.removeLast());
        while (parts.size() > 1 && isOption(parts.peekLast())) options.addFirst(parts.removeLast());
        String path = String.join(",", parts);
        if (path.isEmpty()) throw new IllegalArgumentException("--drive needs a path before the options: " + spec);
        boolean readOnly = false;
        Interface iface = Interface.VIRTIO;
        String serial = null;
        BucketConfig bandwidth = null, ops = null;
        for (String option : options) {
            if (option.equals("ro")) {
                readOnly = true;
            } else if (option.startsWith("if=")) {
                iface = switch (option.substring(3)) {
                    case "virtio" -> Interface.VIRTIO;
                    case "nvme" -> Interface.NVME;
                    case "vhost-user" -> Interface.VHOST_USER;
                    default -> throw new IllegalArgumentException("--drive: unknown interface '" + option.substring(3)
                            + "' (if=virtio, if=nvme or if=vhost-user): " + spec);
                };
            } else if (option.startsWith("serial=")) {
                serial = option.substring(7);
            } else if (option.startsWith("bandwidth=")) {
                bandwidth = RateLimit.parseBucket("bandwidth", option.substring(10));
            } else if (option.startsWith("ops=")) {
                ops = RateLimit.parseBucket("ops", option.substring(4));
            } else {
                throw new IllegalArgumentException("--drive: unknown option '" + option + "' (options: " + OPTIONS + "): " + spec);
            }
        }
        return new DriveConfig(Path.of(path), readOnly, iface, serial, new RateLimit(bandwidth, ops));
    }

    private static boolean isOption(String part) {
        return part.equals("ro") || part.startsWith("if=") || part.startsWith("serial=") || part.startsWith("bandwidth=")
                || part.startsWith("ops=");
    }
}
