package dev.flint.devices.nvme;

import java.util.regex.Pattern;

/**
 * What a controller tells the driver it is: serial number (EC2 puts the volume ID here, so the guest can
 * tell volumes apart, e.g. /dev/disk/by-id/nvme-MODEL_SERIAL), model and firmware revision. Printable
 * ASCII, space padded to the Identify field widths (20, 40, 8 bytes).
 */
public record NvmeIdentity(String serial, String model, String firmware) {
    public static final String DEFAULT_MODEL = "Flint NVMe Disk";
    public static final String FIRMWARE = "1.0";
    private static final Pattern ASCII = Pattern.compile("[\\x20-\\x7E]*");

    public NvmeIdentity {
        check("serial", serial, 20);
        check("model", model, 40);
        check("firmware", firmware, 8);
    }

    /** A controller with Flint's model name and firmware revision. */
    public static NvmeIdentity of(String serial) {
        return new NvmeIdentity(serial, DEFAULT_MODEL, FIRMWARE);
    }

    private static void check(String what, String value, int max) {
        if (value == null || value.isBlank() || value.length() > max || !ASCII.matcher(value).matches()) {
            throw new IllegalArgumentException("NVMe " + what + " must be 1 to " + max + " printable ASCII characters: '" + value + "'");
        }
    }
}
