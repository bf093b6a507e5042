package dev.flint.devices.virtio.block;

import java.nio.file.Path;

/**
 * A block device's backing file as the user gave it: {@code --drive PATH[,ro]}.
 *
 * @param path     a raw disk image (no format header: sector N is at byte N * 512)
 * @param readOnly the guest sees a read-only disk and the file is opened for reading only
 */
public record DriveConfig(Path path, boolean readOnly) {
    public DriveConfig {
        if (path == null) throw new IllegalArgumentException("--drive needs a path");
    }

    /** Parses {@code PATH[,ro]}; the message of the IllegalArgumentException is one line for the user. */
    public static DriveConfig parse(String spec) {
        if (spec == null || spec.isBlank()) throw new IllegalArgumentException("--drive needs a path: --drive PATH[,ro]");
        int comma = spec.lastIndexOf(',');
        String path = spec, option = null;
        if (comma >= 0) {
            path = spec.substring(0, comma);
            option = spec.substring(comma + 1);
        }
        if (path.isEmpty()) throw new IllegalArgumentException("--drive needs a path before the options: " + spec);
        if (option != null && !option.equals("ro")) {
            throw new IllegalArgumentException("--drive: unknown option '" + option + "' (the only option is ro): " + spec);
        }
        return new DriveConfig(Path.of(path), option != null);
    }
}
