package dev.flint.arch.x86;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A growable little-endian byte buffer for firmware structures (zero page pieces, ACPI and MP tables),
 * with in-place patching for length and checksum fields that are only known at the end.
 */
public final class ByteWriter {
    private byte[] buf = new byte[256];
    private int len;

    public int size() { return len; }

    private void ensure(int extra) {
        if (len + extra > buf.length) buf = java.util.Arrays.copyOf(buf, Math.max(buf.length * 2, len + extra));
    }

    public ByteWriter u8(int v) { ensure(1); buf[len++] = (byte) v; return this; }
    public ByteWriter u16(int v) { return u8(v).u8(v >>> 8); }
    public ByteWriter u32(long v) { return u16((int) v).u16((int) (v >>> 16)); }
    public ByteWriter u64(long v) { return u32(v).u32(v >>> 32); }

    public ByteWriter bytes(byte[] b) {
        ensure(b.length);
        System.arraycopy(b, 0, buf, len, b.length);
        len += b.length;
        return this;
    }

    /** Writes {@code s} as ASCII, padded with {@code pad} or cut to exactly {@code width} bytes. */
    public ByteWriter ascii(String s, int width, char pad) {
        byte[] b = s.getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < width; i++) u8(i < b.length ? b[i] : pad);
        return this;
    }

    public ByteWriter zeros(int n) { ensure(n); len += n; return this; }

    public void patch8(int at, int v) { buf[at] = (byte) v; }
    public void patch16(int at, int v) { patch8(at, v); patch8(at + 1, v >>> 8); }
    public void patch32(int at, long v) { patch16(at, (int) v); patch16(at + 2, (int) (v >>> 16)); }

    /** Stores at {@code at} the byte that makes bytes [from, to) sum to zero (mod 256). */
    public void patchChecksum(int at, int from, int to) {
        buf[at] = 0;
        buf[at] = (byte) -sum(buf, from, to);
    }

    public static int sum(byte[] b, int from, int to) {
        int s = 0;
        for (int i = from; i < to; i++) s += b[i];
        return s & 0xFF;
    }

    public byte[] toArray() { return java.util.Arrays.copyOf(buf, len); }

    public static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) out.writeBytes(p);
        return out.toByteArray();
    }
}
