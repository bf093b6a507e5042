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
    static final int LOCAL0_OP = 0x60, ARG0_OP = 0x68, STORE_OP = 0x70, AND_OP = 0x7B, NOTIFY_OP = 0x86,
            IF_OP = 0xA0, OP_REGION_OP = 0x80, FIELD_OP = 0x81, NULL_NAME = 0x00;
    /** Operation region spaces (ACPI 6.4, 19.6.100). */
    public static final int SYSTEM_MEMORY = 0, SYSTEM_IO = 1;
    /** Field access types and update rules (FieldFlags bits 0-3 and 5-6). */
    public static final int DWORD_ACCESS = 3, PRESERVE = 0, WRITE_AS_ZEROS = 2;
    /** Notify values for a device (ACPI 6.4, 5.6.6): rescan it after an insertion; the OS should eject it. */
    public static final int DEVICE_CHECK = 1, EJECT_REQUEST = 3;

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

    /** {@code LocalN}, a method's scratch variable (0..7). */
    public static byte[] local(int n) {
        if (n < 0 || n > 7) throw new IllegalArgumentException("AML has Local0..Local7");
        return new byte[] {(byte) (LOCAL0_OP + n)};
    }

    /** {@code ArgN}, a method's argument (0..6). */
    public static byte[] arg(int n) {
        if (n < 0 || n > 6) throw new IllegalArgumentException("AML has Arg0..Arg6");
        return new byte[] {(byte) (ARG0_OP + n)};
    }

    /** {@code Store(source, target)}: target is a name, a LocalN or an ArgN. */
    public static byte[] store(byte[] source, byte[] target) {
        return ByteWriter.concat(new byte[] {STORE_OP}, source, target);
    }

    /** {@code And(a, b)}, the result only returned (the target is the null name). */
    public static byte[] and(byte[] a, byte[] b) {
        return ByteWriter.concat(new byte[] {AND_OP}, a, b, new byte[] {NULL_NAME});
    }

    /** {@code If(predicate) { terms }}: the terms run when the predicate is a non-zero integer. */
    public static byte[] ifThen(byte[] predicate, byte[]... terms) {
        return withPkgLength(new byte[] {(byte) IF_OP}, ByteWriter.concat(predicate, ByteWriter.concat(terms)));
    }

    /** {@code Notify(object, value)}: tells the OS's handler of device {@code path} about {@code value}. */
    public static byte[] notify(String path, int value) {
        return ByteWriter.concat(new byte[] {(byte) NOTIFY_OP}, nameString(path), integer(value));
    }

    /** A method invocation {@code path(args)}; the callee must take exactly that many arguments. */
    public static byte[] call(String path, byte[]... args) {
        return ByteWriter.concat(nameString(path), ByteWriter.concat(args));
    }

    /** A reference to a named object (a field unit, a device) as an operand. */
    public static byte[] ref(String path) {
        return nameString(path);
    }

    /** {@code OperationRegion(name, space, offset, length)}. */
    public static byte[] operationRegion(String name, int space, long offset, long length) {
        return ByteWriter.concat(new byte[] {EXT_OP, (byte) OP_REGION_OP}, nameString(name), new byte[] {(byte) space},
                integer(offset), integer(length));
    }

    /** One named field of {@link #field}: {@code name, bits}. */
    public static byte[] fieldUnit(String name, int bits) {
        if (name.contains(".") || name.startsWith("\\")) throw new IllegalArgumentException("a field unit is one name segment: " + name);
        return ByteWriter.concat(nameString(name), encodedLength(bits));
    }

    /** {@code Field(region, access, NoLock, update) { units }}: the units laid out in order from offset 0. */
    public static byte[] field(String region, int access, int update, byte[]... units) {
        int flags = (access & 0xF) | (update & 3) << 5;
        return withPkgLength(new byte[] {EXT_OP, (byte) FIELD_OP},
                ByteWriter.concat(nameString(region), new byte[] {(byte) flags}, ByteWriter.concat(units)));
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
            if (total < 1 << (4 + 8 * (n - 1))) return encoded(total, n);
        }
        throw new IllegalArgumentException("AML package too long: " + bodyLen);
    }

    /** A value in PkgLength's format that does not count its own bytes (a field unit's width in bits). */
    static byte[] encodedLength(int value) {
        if (value < 0) throw new IllegalArgumentException("negative length");
        if (value <= 0x3F) return new byte[] {(byte) value};
        for (int n = 2; n <= 4; n++) if (value < 1 << (4 + 8 * (n - 1))) return encoded(value, n);
        throw new IllegalArgumentException("AML length too large: " + value);
    }

    private static byte[] encoded(int value, int n) {
        byte[] out = new byte[n];
        out[0] = (byte) (((n - 1) << 6) | (value & 0xF));
        for (int i = 1; i < n; i++) out[i] = (byte) (value >>> (4 + 8 * (i - 1)));
        return out;
    }
}
