package dev.flint.devices.virtio.net;

import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.regex.Pattern;

/** A 48-bit Ethernet address, as the guest's NIC reports it in its configuration space. */
public record MacAddress(long value) {
    private static final Pattern TEXT = Pattern.compile("([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}");

    public MacAddress {
        if ((value & ~0xFFFF_FFFF_FFFFL) != 0) throw new IllegalArgumentException("a MAC address has 48 bits");
        if ((firstByte(value) & 1) != 0) throw new IllegalArgumentException("a NIC address must not be multicast: " + format(value));
    }

    /**
     * Parses {@code 06:00:ac:10:00:02}; the message of the IllegalArgumentException is one line for the user.
     * Multicast addresses (low bit of the first byte set) are refused: a NIC cannot own one.
     */
    public static MacAddress parse(String text) {
        if (text == null || !TEXT.matcher(text).matches()) {
            throw new IllegalArgumentException("'" + text + "' is not a MAC address like 06:00:ac:10:00:02");
        }
        long v = HexFormat.fromHexDigitsToLong(text.replace(":", ""));
        if ((firstByte(v) & 1) != 0) {
            throw new IllegalArgumentException(text + " is a multicast address; a NIC needs a unicast one (even first byte)");
        }
        return new MacAddress(v);
    }

    /**
     * A random locally administered unicast address (second-lowest bit of the first byte set, lowest
     * clear), so it cannot collide with a vendor-assigned one.
     */
    public static MacAddress randomLocal() {
        long v = new SecureRandom().nextLong() & 0xFFFF_FFFF_FFFFL;
        v = (v & ~(0x03L << 40)) | (0x02L << 40);
        return new MacAddress(v);
    }

    /** The six bytes in wire order. */
    public byte[] bytes() {
        byte[] b = new byte[6];
        for (int i = 0; i < 6; i++) b[i] = (byte) (value >>> (8 * (5 - i)));
        return b;
    }

    private static int firstByte(long v) { return (int) (v >>> 40) & 0xFF; }

    private static String format(long v) {
        StringBuilder s = new StringBuilder();
        for (int i = 5; i >= 0; i--) {
            if (s.length() > 0) s.append(':');
            s.append(String.format("%02x", (v >>> (8 * i)) & 0xFF));
        }
        return s.toString();
    }

    @Override
    public String toString() { return format(value); }
}
