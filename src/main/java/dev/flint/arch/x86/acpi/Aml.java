package dev.flint.arch.x86.acpi;

import dev.flint.arch.x86.ByteWriter;

import java.nio.charset.StandardCharsets;

/**
 * A small builder for ACPI Machine Language byte code (ACPI spec, chapter 20): just the terms Flint's DSDT
 * needs. Every method returns the encoded term, so definitions nest the way ASL source does:
 * {@code scope("\\_SB", device("COM1", name("_HID", eisaId("PNP0501"))))}.
 */
public final class Aml {
    static final int ZERO_OP = 0x00, ONE_OP = 0x01, NAME_OP = 0x08, BYTE_PREFIX = 0x0A, WORD_PREFIX = 0x0B,
            DWORD_PREFIX = 0x0C, STRING_PREFIX = 0x0D, QWORD_PREFIX = 0x0E, SCOPE_OP = 0x10, BUFFER_OP = 0x11,
            PACKAGE_OP = 0x12, METHOD_OP = 0x14, RETURN_OP = 0xA4, EXT_OP = 0x5B, DEVICE_OP = 0x82,
            DUAL_NAME_PREFIX = 0x2E, MULTI_NAME_PREFIX = 0x2F, ROOT_CHAR = 0x5C;

    private Aml() {}

    /** {@code Name(path, value)}. */
    public static byte[] name(String path, byte[] value) {
        return ByteWriter.concat(new byte[] {NAME_OP}, nameString(path), value);
    }

    /** {@code Scope(path) { terms }}. */
    public static byte[] scope(String path, byte[]... terms) {
        return withPkgLength(new byte[] {SCOPE_OP}, ByteWriter.concat(nameString(path), ByteWriter.concat(terms)));
    }

    /** {@code Device(name) { terms }}. */
    public static byte[] device(String name, byte[]... terms) {
        return withPkgLength(new byte[] {EXT_OP, (byte) DEVICE_OP},
                ByteWriter.concat(nameString(name), ByteWriter.concat(terms)));
    }

    /** {@code Method(name, args, NotSerialized) { terms }}. */
    public static byte[] method(String name, int args, byte[]... terms) {
        if (args < 0 || args > 7) throw new IllegalArgumentException("AML methods take 0..7 arguments");
        return withPkgLength(new byte[] {METHOD_OP},
                ByteWriter.concat(nameString(name), new byte[] {(byte) args}, ByteWriter.concat(terms)));
    }

    /** {@code Return(value)}. */
    public static byte[] returns(byte[] value) {
        return ByteWriter.concat(new byte[] {(byte) RETURN_OP}, value);
    }

    /** {@code Package() { elements }}. */
    public static byte[] pkg(byte[]... elements) {
        if (elements.length > 255) throw new IllegalArgumentException("package too large for a byte count");
        return withPkgLength(new byte[] {PACKAGE_OP},
                ByteWriter.concat(new byte[] {(byte) elements.length}, ByteWriter.concat(elements)));
    }

    /** {@code Buffer() { bytes }}. */
    public static byte[] buffer(byte[] bytes) {
        return withPkgLength(new byte[] {BUFFER_OP}, ByteWriter.concat(integer(bytes.length), bytes));
    }

    /** The shortest integer encoding of an unsigned value. */
    public static byte[] integer(long v) {
        ByteWriter w = new ByteWriter();
        if (v == 0) w.u8(ZERO_OP);
        else if (v == 1) w.u8(ONE_OP);
        else if (v >>> 8 == 0) w.u8(BYTE_PREFIX).u8((int) v);
        else if (v >>> 16 == 0) w.u8(WORD_PREFIX).u16((int) v);
        else if (v >>> 32 == 0) w.u8(DWORD_PREFIX).u32(v);
        else w.u8(QWORD_PREFIX).u64(v);
        return w.toArray();
    }

    public static byte[] string(String s) {
        return ByteWriter.concat(new byte[] {STRING_PREFIX}, s.getBytes(StandardCharsets.US_ASCII), new byte[] {0});
    }

    /** A compressed EISA ID such as "PNP0A03" as the 32-bit integer _HID expects. */
    public static byte[] eisaId(String id) {
        if (id.length() != 7) throw new IllegalArgumentException("EISA IDs are 3 letters and 4 hex digits: " + id);
        int v = ((id.charAt(0) - 0x40) << 26) | ((id.charAt(1) - 0x40) << 21) | ((id.charAt(2) - 0x40) << 16)
                | Integer.parseInt(id.substring(3), 16);
        return integer(Integer.reverseBytes(v) & 0xFFFF_FFFFL);
    }

    /** Encodes a name path: optional root prefix, dotted segments each padded to 4 characters with '_'. */
    static byte[] nameString(String path) {
        ByteWriter w = new ByteWriter();
        String rest = path;
        if (rest.startsWith("\\")) {
            w.u8(ROOT_CHAR);
            rest = rest.substring(1);
        }
        String[] segs = rest.isEmpty() ? new String[0] : rest.split("\\.");
        if (segs.length == 2) w.u8(DUAL_NAME_PREFIX);
        else if (segs.length > 2) w.u8(MULTI_NAME_PREFIX).u8(segs.length);
        else if (segs.length == 0) w.u8(0); // NullName: the root itself
        for (String s : segs) {
            if (s.isEmpty() || s.length() > 4 || !s.matches("[A-Z_][A-Z0-9_]*")) {
                throw new IllegalArgumentException("bad AML name segment '" + s + "' in " + path);
            }
            w.ascii(s, 4, '_');
        }
        return w.toArray();
    }

    /** Prefixes {@code body} with {@code op} and the PkgLength covering the length bytes and the body. */
    static byte[] withPkgLength(byte[] op, byte[] body) {
        return ByteWriter.concat(op, pkgLength(body.length), body);
    }

    static byte[] pkgLength(int bodyLen) {
        if (bodyLen + 1 <= 0x3F) return new byte[] {(byte) (bodyLen + 1)};
        for (int n = 2; n <= 4; n++) {
            int total = bodyLen + n;
            if (total < 1 << (4 + 8 * (n - 1))) {
                byte[] out = new byte[n];
                out[0] = (byte) (((n - 1) << 6) | (total & 0xF));
                for (int i = 1; i < n; i++) out[i] = (byte) (total >>> (4 + 8 * (i - 1)));
                return out;
            }
        }
        throw new IllegalArgumentException("AML package too long: " + bodyLen);
    }
}
