package dev.flint.machine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/** Reads this process's /proc/self/smaps: the kB figures of one mapping (Rss, AnonHugePages, Anonymous...). */
public final class Smaps {
    private Smaps() {}

    /** The kB fields of the smaps entry of the mapping that holds {@code address}. */
    public static Map<String, Long> of(long address) throws java.io.IOException {
        Map<String, Long> fields = null;
        for (String line : Files.readAllLines(Path.of("/proc/self/smaps"))) {
            int dash = line.indexOf('-');
            int space = line.indexOf(' ');
            if (dash > 0 && space > dash && line.substring(0, dash).matches("[0-9a-f]+")) {
                if (fields != null) break;
                long start = Long.parseUnsignedLong(line.substring(0, dash), 16);
                long end = Long.parseUnsignedLong(line.substring(dash + 1, space), 16);
                if (Long.compareUnsigned(address, start) >= 0 && Long.compareUnsigned(address, end) < 0) fields = new HashMap<>();
            } else if (fields != null && line.endsWith(" kB")) {
                String[] parts = line.split("\\s+");
                fields.put(parts[0].substring(0, parts[0].length() - 1), Long.parseLong(parts[1]));
            }
        }
        if (fields == null) throw new AssertionError("no mapping holds 0x" + Long.toHexString(address));
        return fields;
    }

    /** The host's THP mode, the bracketed word of /sys/kernel/mm/transparent_hugepage/enabled ("never" without THP). */
    public static String thpMode() throws java.io.IOException {
        Path p = Path.of("/sys/kernel/mm/transparent_hugepage/enabled");
        if (!Files.exists(p)) return "never";
        String s = Files.readString(p);
        return s.substring(s.indexOf('[') + 1, s.indexOf(']'));
    }
}
